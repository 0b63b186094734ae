// Users: list, create, edit, enable or disable, change password, delete.

import { h, replace, field, errorBox, announce, confirmDialog } from './ui.js'
import { segment } from './api.js'

export async function usersView (view, context) {
  const users = await context.session.request('GET', '/_security/user')
  const manage = context.can.manageSecurity
  const errors = h('div', { class: 'errors' })
  const editor = h('div', {})
  const reload = () => usersView(view, context).then(() => view.querySelector('h1')?.focus())
  const act = (fn) => async () => {
    replace(errors)
    try {
      await fn()
    } catch (err) {
      if (err.status === 401) throw err
      errors.append(errorBox(err))
    }
  }
  const rows = Object.entries(users).sort(([a], [b]) => a.localeCompare(b)).map(([name, user]) => {
    const reserved = Boolean(user.metadata && user.metadata._reserved)
    const buttons = []
    if (manage) {
      if (!reserved) {
        buttons.push(h('button', { type: 'button', onclick: () => showEditor(editor, context, name, user, reload) }, `Edit ${name}`))
      }
      buttons.push(h('button', {
        type: 'button',
        onclick: act(async () => {
          const verb = user.enabled ? '_disable' : '_enable'
          await context.session.request('PUT', `/_security/user/${segment(name)}/${verb}`)
          announce(`${name} ${user.enabled ? 'disabled' : 'enabled'}`)
          await reload()
        })
      }, `${user.enabled ? 'Disable' : 'Enable'} ${name}`))
      buttons.push(h('button', { type: 'button', onclick: () => showPassword(editor, context, name) }, `Change password of ${name}`))
      if (!reserved) {
        buttons.push(h('button', {
          type: 'button',
          class: 'danger',
          onclick: act(async () => {
            if (!await confirmDialog('Delete user', `Delete the user ${name}? Their API keys stay until invalidated.`, 'Delete')) return
            await context.session.request('DELETE', `/_security/user/${segment(name)}`)
            announce(`${name} deleted`)
            await reload()
          })
        }, `Delete ${name}`))
      }
    }
    return h('tr', {},
      h('th', { scope: 'row' }, name),
      h('td', {}, user.full_name || ''),
      h('td', {}, user.email || ''),
      h('td', {}, (user.roles || []).join(', ')),
      h('td', {}, user.enabled ? 'enabled' : h('span', { class: 'badge invalidated' }, 'disabled')),
      manage ? h('td', { class: 'row-actions' }, buttons) : null)
  })
  replace(view,
    h('div', { class: 'title-row' }, h('h1', {}, 'Users'),
      manage ? h('button', { type: 'button', class: 'primary', onclick: () => showEditor(editor, context, null, {}, reload) }, 'New user') : null),
    manage ? null : h('p', { class: 'notice' }, 'You may read users but not change them (manage_security is needed).'),
    errors, editor,
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', { class: 'visually-hidden' }, 'Users'),
      h('thead', {}, h('tr', {}, ['Username', 'Full name', 'Email', 'Roles', 'State'].map((label) => h('th', { scope: 'col' }, label)),
        manage ? h('th', { scope: 'col' }, 'Actions') : null)),
      h('tbody', {}, rows))))
}

function showEditor (holder, context, name, user, reload) {
  const creating = name === null
  const username = h('input', { name: 'username', required: true, value: name || '', readonly: !creating, autocomplete: 'off' })
  const password = h('input', { name: 'password', type: 'password', required: creating, autocomplete: 'new-password', minlength: 6 })
  const roles = h('input', { name: 'roles', value: (user.roles || []).join(', '), autocomplete: 'off' })
  const fullName = h('input', { name: 'full_name', value: user.full_name || '', autocomplete: 'off' })
  const email = h('input', { name: 'email', type: 'email', value: user.email || '', autocomplete: 'off' })
  const errors = h('div', { class: 'errors' })
  const form = h('form', { class: 'card', 'aria-labelledby': 'user-editor-title' },
    h('h2', { id: 'user-editor-title', tabindex: -1 }, creating ? 'New user' : `Edit ${name}`),
    field('Username', username),
    creating ? field('Password', password, 'At least 6 characters.') : null,
    field('Roles', roles, 'Comma-separated role names.'),
    field('Full name', fullName),
    field('Email', email),
    errors,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, creating ? 'Create user' : 'Save user'),
      h('button', { type: 'button', onclick: () => replace(holder) }, 'Cancel')))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(errors)
    const body = {
      roles: roles.value.split(',').map((role) => role.trim()).filter(Boolean),
      full_name: fullName.value || null,
      email: email.value || null,
      enabled: creating ? true : user.enabled
    }
    if (creating) body.password = password.value
    try {
      await context.session.request('PUT', `/_security/user/${segment(username.value)}`, body)
      announce(`User ${username.value} saved`)
      await reload()
    } catch (err) {
      if (err.status === 401) throw err
      errors.append(errorBox(err))
    }
  })
  replace(holder, form)
  form.querySelector('h2').focus()
}

function showPassword (holder, context, name) {
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: 6 })
  const errors = h('div', { class: 'errors' })
  const form = h('form', { class: 'card', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title', tabindex: -1 }, `Change the password of ${name}`),
    field('New password', password, 'At least 6 characters.'),
    errors,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Change password'),
      h('button', { type: 'button', onclick: () => replace(holder) }, 'Cancel')))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(errors)
    try {
      await context.session.request('PUT', `/_security/user/${segment(name)}/_password`, { password: password.value })
      replace(holder, h('p', { class: 'notice', role: 'status' }, `The password of ${name} was changed.`))
    } catch (err) {
      if (err.status === 401) throw err
      errors.append(errorBox(err))
    }
  })
  replace(holder, form)
  form.querySelector('h2').focus()
}
