// Roles: list, create or edit as JSON (the server validates it), delete.

import { h, replace, field, errorBox, announce, confirmDialog, parseJsonField } from './ui.js'
import { segment } from './api.js'

const NEW_ROLE = { cluster: ['monitor'], indices: [{ names: ['logs-*'], privileges: ['read'] }] }

export async function rolesView (view, context) {
  const roles = await context.session.request('GET', '/_security/role')
  const manage = context.can.manageSecurity
  const errors = h('div', { class: 'errors' })
  const editor = h('div', {})
  const reload = () => rolesView(view, context).then(() => view.querySelector('h1')?.focus())
  const rows = Object.entries(roles).sort(([a], [b]) => a.localeCompare(b)).map(([name, role]) => {
    const reserved = Boolean(role.metadata && role.metadata._reserved)
    const buttons = []
    if (manage && !reserved) {
      buttons.push(h('button', { type: 'button', onclick: () => showEditor(editor, context, name, role, reload) }, `Edit ${name}`))
      buttons.push(h('button', {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          replace(errors)
          if (!await confirmDialog('Delete role', `Delete the role ${name}? Users keep the name but lose its privileges.`, 'Delete')) return
          try {
            await context.session.request('DELETE', `/_security/role/${segment(name)}`)
            announce(`Role ${name} deleted`)
            await reload()
          } catch (err) {
            if (err.status === 401) throw err
            errors.append(errorBox(err))
          }
        }
      }, `Delete ${name}`))
    }
    return h('tr', {},
      h('th', { scope: 'row' }, name),
      h('td', {}, (role.cluster || []).join(', ')),
      h('td', {}, (role.indices || []).map((entry) => `${(entry.names || []).join(',')}: ${(entry.privileges || []).join(',')}`).join('; ')),
      h('td', {}, reserved ? 'built-in' : 'stored'),
      manage ? h('td', { class: 'row-actions' }, buttons) : null)
  })
  replace(view,
    h('div', { class: 'title-row' }, h('h1', {}, 'Roles'),
      manage ? h('button', { type: 'button', class: 'primary', onclick: () => showEditor(editor, context, null, NEW_ROLE, reload) }, 'New role') : null),
    errors, editor,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Roles'),
      h('thead', {}, h('tr', {}, ['Name', 'Cluster privileges', 'Index privileges', 'Kind'].map((label) => h('th', { scope: 'col' }, label)),
        manage ? h('th', { scope: 'col' }, 'Actions') : null)),
      h('tbody', {}, rows))))
}

function showEditor (holder, context, name, role, reload) {
  const creating = name === null
  const nameInput = h('input', { name: 'name', required: true, value: name || '', readonly: !creating, autocomplete: 'off' })
  const body = { ...role }
  delete body.transient_metadata
  const json = h('textarea', { name: 'role', rows: 12, spellcheck: 'false', class: 'code' }, JSON.stringify(body, null, 2))
  const errors = h('div', { class: 'errors' })
  const form = h('form', { class: 'card', 'aria-labelledby': 'role-editor-title' },
    h('h2', { id: 'role-editor-title', tabindex: -1 }, creating ? 'New role' : `Edit ${name}`),
    field('Role name', nameInput),
    field('Role (JSON)', json, 'cluster, indices, applications, run_as, metadata.'),
    errors,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, creating ? 'Create role' : 'Save role'),
      h('button', { type: 'button', onclick: () => replace(holder) }, 'Cancel')))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(errors)
    try {
      const value = parseJsonField('Role', json.value, {})
      await context.session.request('PUT', `/_security/role/${segment(nameInput.value)}`, value)
      announce(`Role ${nameInput.value} saved`)
      await reload()
    } catch (err) {
      if (err.status === 401) throw err
      errors.append(errorBox(err))
    }
  })
  replace(holder, form)
  form.querySelector('h2').focus()
}
