// One key: everything the API tells about it, its update and its invalidation.

import { h, replace, field, errorBox, announce, confirmDialog, timeCell, jsonBlock, parseJsonField } from './ui.js'
import { keyStatus } from './search.js'

export async function detailsView (view, context, id) {
  const key = await fetchKey(context, id)
  if (!key) {
    replace(view, h('h1', {}, 'Key not found'), h('p', {}, `No key with id ${id} is visible to you.`),
      h('a', { href: '#/keys' }, 'Back to the list'))
    return
  }
  const status = keyStatus(key)
  const crossCluster = key.type === 'cross_cluster'
  const facts = [
    ['Id', h('code', {}, key.id)],
    ['Type', crossCluster ? 'cross-cluster' : 'REST'],
    ['Status', h('span', { class: `badge ${status}`, id: 'key-status' }, status)],
    ['Owner', key.username],
    ['Realm', key.realm],
    ['Created', timeCell(key.creation)],
    ['Expires', timeCell(key.expiration)],
    key.invalidation ? ['Invalidated', timeCell(key.invalidation)] : null,
    key.certificate_identity ? ['Certificate identity', h('code', {}, key.certificate_identity)] : null
  ].filter(Boolean)
  const sections = [
    h('dl', { class: 'facts' }, facts.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    h('h2', {}, 'Metadata'), jsonBlock('Metadata', key.metadata || {}),
    crossCluster && key.access ? [h('h2', {}, 'Access'), jsonBlock('Access', key.access)] : null,
    h('h2', {}, 'Role descriptors'), jsonBlock('Role descriptors', key.role_descriptors || {}),
    key.limited_by ? [h('h2', {}, 'Limited by (the owner\'s privileges when the key was made)'),
      jsonBlock('Limited by', key.limited_by)] : null
  ]
  const errors = h('div', { class: 'errors' })
  const owned = context.me && key.username === context.me.username
  const mayChange = status !== 'invalidated' && (context.can.manageAllKeys || (context.can.manageOwnKeys && owned))
  const actions = []
  if (mayChange) {
    actions.push(updateForm(context, key, errors, () => detailsView(view, context, id)))
    const invalidate = h('button', { type: 'button', class: 'danger' }, 'Invalidate key')
    invalidate.addEventListener('click', async () => {
      const confirmed = await confirmDialog('Invalidate key',
        `Invalidate "${key.name}"? Clients using it are refused at once. This cannot be undone.`, 'Invalidate')
      if (!confirmed) return invalidate.focus()
      try {
        await context.session.request('DELETE', '/_security/api_key', { ids: [key.id] })
        announce(`Key ${key.name} invalidated`)
        await detailsView(view, context, id)
        view.querySelector('h1')?.focus()
      } catch (err) {
        if (err.status === 401) throw err
        errors.append(errorBox(err))
      }
    })
    actions.push(h('section', { class: 'card', 'aria-labelledby': 'invalidate-title' },
      h('h2', { id: 'invalidate-title' }, 'Invalidate'), invalidate))
  }
  replace(view,
    h('p', {}, h('a', { href: '#/keys' }, '← All keys')),
    h('h1', {}, key.name || key.id),
    errors, sections, actions)
}

async function fetchKey (context, id) {
  const path = `/_security/api_key?id=${encodeURIComponent(id)}`
  let answer
  try {
    answer = await context.session.request('GET', `${path}&with_limited_by=true`)
  } catch (err) {
    if (err.status === 404) return null
    if (err.status !== 403 && err.status !== 400) throw err
    // Only some callers may see limited_by; the rest see the key without it.
    try {
      answer = await context.session.request('GET', path)
    } catch (retry) {
      if (retry.status === 404) return null
      throw retry
    }
  }
  return (answer.api_keys || [])[0] || null
}

function updateForm (context, key, errors, reload) {
  const crossCluster = key.type === 'cross_cluster'
  const editor = h('textarea', { rows: 10, spellcheck: 'false', class: 'code', name: crossCluster ? 'access' : 'role_descriptors' },
    JSON.stringify(crossCluster ? key.access || {} : key.role_descriptors || {}, null, 2))
  const metadata = h('textarea', { rows: 4, spellcheck: 'false', class: 'code', name: 'metadata' },
    JSON.stringify(key.metadata || {}, null, 2))
  const expiration = h('input', { name: 'expiration', autocomplete: 'off', placeholder: 'unchanged' })
  const form = h('form', { class: 'card', 'aria-labelledby': 'update-title' },
    h('h2', { id: 'update-title' }, 'Update'),
    field(crossCluster ? 'Access (JSON)' : 'Role descriptors (JSON)', editor),
    field('Metadata (JSON object)', metadata),
    field('New expiration', expiration, 'From now, e.g. 30d. Empty: unchanged.'),
    h('button', { type: 'submit', class: 'primary' }, 'Update key'))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(errors)
    let body
    try {
      body = { metadata: parseJsonField('Metadata', metadata.value, {}) }
      const value = parseJsonField(crossCluster ? 'Access' : 'Role descriptors', editor.value, {})
      if (crossCluster) body.access = value
      else body.role_descriptors = value
      if (expiration.value.trim()) body.expiration = expiration.value.trim()
    } catch (err) {
      errors.append(errorBox(err))
      return
    }
    const path = crossCluster
      ? `/_security/cross_cluster/api_key/${encodeURIComponent(key.id)}`
      : `/_security/api_key/${encodeURIComponent(key.id)}`
    try {
      const answer = await context.session.request('PUT', path, body)
      announce(answer.updated ? 'Key updated' : 'Nothing to change: the key already had these values')
      await reload()
    } catch (err) {
      if (err.status === 401) throw err
      errors.append(errorBox(err))
    }
  })
  return form
}
