// Creating a key: a REST key with role descriptors, or a cross-cluster key with its access;
// expiration and metadata. The server validates the JSON: its answer is shown as it is. The
// secret is shown once, in every form clients take it.

import { h, replace, field, errorBox, parseJsonField, copy } from './ui.js'

/** Role descriptor templates a user can start from. */
export const TEMPLATES = {
  'Read-only on index patterns': {
    'read-only': {
      indices: [{ names: ['logs-*', 'metrics-*'], privileges: ['read', 'view_index_metadata'] }]
    }
  },
  'Cluster monitor': {
    monitor: { cluster: ['monitor'] }
  },
  'Application privileges': {
    'app-access': {
      applications: [{ application: 'my-app', privileges: ['read'], resources: ['*'] }]
    }
  }
}

const ACCESS_TEMPLATE = {
  search: [{ names: ['logs-*'] }],
  replication: [{ names: ['archive-*'] }]
}

export async function createView (view, context) {
  let kind = 'rest'
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' })
  const expiration = h('input', { name: 'expiration', autocomplete: 'off', placeholder: 'e.g. 30d' })
  const descriptors = h('textarea', { name: 'role_descriptors', rows: 10, spellcheck: 'false', class: 'code' })
  const access = h('textarea', { name: 'access', rows: 10, spellcheck: 'false', class: 'code' },
    JSON.stringify(ACCESS_TEMPLATE, null, 2))
  const metadata = h('textarea', { name: 'metadata', rows: 4, spellcheck: 'false', class: 'code' })
  const errors = h('div', { class: 'errors' })
  const result = h('div', { class: 'result' })

  const templateButtons = Object.entries(TEMPLATES).map(([label, value]) =>
    h('button', {
      type: 'button',
      onclick: () => {
        descriptors.value = JSON.stringify(value, null, 2)
        descriptors.focus()
        descriptors.setSelectionRange(0, 0)
        descriptors.scrollTop = 0
      }
    }, label))
  const restFields = h('div', {},
    field('Role descriptors (JSON)', descriptors,
      'Empty: the key gets a snapshot of your own privileges. A template fills the editor.'),
    h('div', { class: 'templates', role: 'group', 'aria-label': 'Role descriptor templates' },
      h('span', {}, 'Templates:'), templateButtons))
  const crossFields = h('div', { hidden: true },
    field('Access (JSON)', access, 'search and/or replication entries, each with index names.'))

  const choose = (value) => () => {
    kind = value
    restFields.hidden = value !== 'rest'
    crossFields.hidden = value !== 'cross_cluster'
  }
  const form = h('form', { class: 'card' },
    h('fieldset', { class: 'choice' },
      h('legend', {}, 'Kind of key'),
      h('label', {}, h('input', { type: 'radio', name: 'kind', value: 'rest', checked: true, onchange: choose('rest') }), ' REST API key'),
      h('label', {}, h('input', { type: 'radio', name: 'kind', value: 'cross_cluster', onchange: choose('cross_cluster') }), ' Cross-cluster API key')),
    field('Name', name),
    field('Expiration', expiration, 'A time value such as 1d, 12h or 90d. Empty: the key never expires.'),
    restFields, crossFields,
    field('Metadata (JSON object)', metadata, 'Optional, e.g. {"team": "search"}.'),
    errors,
    h('button', { type: 'submit', class: 'primary' }, 'Create key'))

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(errors)
    let body
    try {
      body = { name: name.value }
      if (expiration.value.trim()) body.expiration = expiration.value.trim()
      const meta = parseJsonField('Metadata', metadata.value, undefined)
      if (meta !== undefined) body.metadata = meta
      if (kind === 'rest') {
        const roles = parseJsonField('Role descriptors', descriptors.value, undefined)
        if (roles !== undefined) body.role_descriptors = roles
      } else {
        body.access = parseJsonField('Access', access.value, {})
      }
    } catch (err) {
      errors.append(errorBox(err))
      return
    }
    const path = kind === 'rest' ? '/_security/api_key' : '/_security/cross_cluster/api_key'
    try {
      const created = await context.session.request('POST', path, body)
      form.hidden = true
      showSecret(result, created)
    } catch (err) {
      if (err.status === 401) throw err
      errors.append(errorBox(err))
      errors.querySelector('[role=alert]')?.focus()
    }
  })

  replace(view, h('h1', {}, 'Create an API key'), form, result)
}

/** The one and only display of a new key's secret. */
export function showSecret (container, created) {
  const origin = location.origin
  const pair = `${created.id}:${created.api_key}`
  const forms = [
    ['Encoded (Authorization: ApiKey …)', 'encoded', created.encoded],
    ['Beats (id:api_key)', 'beats', pair],
    ['Logstash (id:api_key)', 'logstash', pair],
    ['curl', 'curl', `curl -H "Authorization: ApiKey ${created.encoded}" ${origin}/_cluster/health`],
    ['Python client', 'python',
      `from elasticsearch import Elasticsearch\nclient = Elasticsearch("${origin}", api_key="${created.encoded}")\nprint(client.cluster.health())`]
  ]
  const heading = h('h2', { id: 'secret-title', tabindex: -1 }, `Key "${created.name}" created`)
  replace(container,
    h('section', { class: 'card secret', 'aria-labelledby': 'secret-title' },
      heading,
      h('p', { class: 'warning', role: 'alert' },
        'Copy the key now: you will not see this again. keyward keeps only a hash of it.'),
      h('p', {}, 'Id: ', h('code', { id: 'created-id' }, created.id)),
      forms.map(([label, id, value]) => h('div', { class: 'secret-row' },
        h('label', { for: `secret-${id}` }, label),
        h('textarea', { id: `secret-${id}`, readonly: true, rows: rowsFor(value), class: 'code', spellcheck: 'false' }, value),
        h('button', { type: 'button', onclick: () => copy(value, label) }, `Copy ${label.split(' ')[0]}`))),
      h('p', {}, h('a', { href: `#/key/${encodeURIComponent(created.id)}` }, 'View the key'), ' · ',
        h('a', { href: '#/keys' }, 'Back to the list'))))
  heading.focus()
}

/** Enough rows to show `value` whole at the usual width, wrapped lines included. */
function rowsFor (value) {
  const rows = value.split('\n').reduce((sum, line) => sum + Math.max(1, Math.ceil(line.length / 70)), 0)
  return Math.min(rows, 8)
}
