// The console's shell: sign-in, the header and navigation, what the caller may do, and the
// hash router that shows one view at a time (#/keys, #/create, #/key/<id>, #/users, #/roles).

import { Session, ApiError } from './api.js'
import { h, replace, field, errorBox, announce } from './ui.js'
import { keysView, resetKeysList } from './keys.js'
import { createView } from './create.js'
import { detailsView } from './details.js'
import { usersView } from './users.js'
import { rolesView } from './roles.js'

const session = new Session()
const main = document.getElementById('main')
const nav = document.getElementById('nav')
const who = document.getElementById('who')
const signOutButton = document.getElementById('sign-out')

/** Who is signed in and what they may do, filled at sign-in. */
const context = { session, me: null, can: {} }

/** The cluster privileges that decide which controls are shown. */
const PRIVILEGES = ['manage_api_key', 'manage_own_api_key', 'manage_security', 'read_security']

async function loadCaller () {
  context.me = await session.request('GET', '/_security/_authenticate')
  const answer = await session.request('POST', '/_security/user/_has_privileges', { cluster: PRIVILEGES })
  const has = answer.cluster || {}
  context.can = {
    manageAllKeys: Boolean(has.manage_api_key || has.manage_security),
    manageOwnKeys: Boolean(has.manage_api_key || has.manage_security || has.manage_own_api_key),
    readSecurity: Boolean(has.read_security || has.manage_security),
    manageSecurity: Boolean(has.manage_security)
  }
}

function showSignIn (message) {
  nav.hidden = true
  signOutButton.hidden = true
  replace(who)
  let mode = 'password'
  const errors = h('div', { class: 'errors' })
  if (message) errors.append(h('p', { class: 'notice', role: 'status' }, message))
  const username = h('input', { name: 'username', autocomplete: 'username', required: true })
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })
  const apiKey = h('input', { name: 'api_key', type: 'password', autocomplete: 'off', spellcheck: 'false' })
  const passwordFields = h('div', {}, field('Username', username), field('Password', password))
  const keyFields = h('div', { hidden: true },
    field('Encoded API key', apiKey, 'The "encoded" value: base64 of id:api_key.'))
  const choose = (value) => () => {
    mode = value
    passwordFields.hidden = value !== 'password'
    keyFields.hidden = value !== 'api_key'
    username.required = password.required = value === 'password'
    apiKey.required = value === 'api_key'
  }
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: -1 }, 'Sign in to keyward'),
    h('fieldset', { class: 'choice' },
      h('legend', {}, 'Sign in with'),
      h('label', {}, h('input', { type: 'radio', name: 'mode', value: 'password', checked: true, onchange: choose('password') }), ' Username and password'),
      h('label', {}, h('input', { type: 'radio', name: 'mode', value: 'api_key', onchange: choose('api_key') }), ' API key')),
    passwordFields, keyFields, errors,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    replace(errors)
    try {
      if (mode === 'password') {
        await session.signInWithPassword(username.value, password.value)
      } else {
        session.signInWithApiKey(apiKey.value)
      }
      password.value = ''
      apiKey.value = ''
      await loadCaller()
    } catch (err) {
      session.clear()
      if (err instanceof ApiError && err.status === 403 && mode === 'password') {
        err.message += ' — signing in with a password needs the manage_token privilege; sign in with an API key instead'
      }
      errors.append(errorBox(err))
      return
    }
    showShell()
    if (!location.hash || location.hash === '#/') location.hash = '#/keys'
    else route()
  })
  replace(main, form)
  form.querySelector('h1').focus()
}

function showShell () {
  const me = context.me
  const user = me.api_key ? `API key ${me.api_key.name || me.api_key.id} (${me.username})` : me.username
  replace(who, h('span', {}, 'Signed in as '), h('strong', { id: 'whoami' }, user))
  signOutButton.hidden = false
  const links = [
    ['#/keys', 'API keys', context.can.manageOwnKeys],
    ['#/create', 'Create key', context.can.manageOwnKeys],
    ['#/users', 'Users', context.can.readSecurity],
    ['#/roles', 'Roles', context.can.readSecurity]
  ]
  replace(nav, h('ul', {}, links.filter(([, , shown]) => shown)
    .map(([href, text]) => h('li', {}, h('a', { href }, text)))))
  nav.hidden = false
}

function markCurrent (hash) {
  for (const link of nav.querySelectorAll('a')) {
    if (hash.startsWith(link.getAttribute('href'))) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
}

async function route () {
  if (!session.signedIn || !context.me) return showSignIn()
  const hash = location.hash || '#/keys'
  markCurrent(hash)
  const view = h('div', { class: 'view' })
  replace(main, view)
  try {
    if (hash.startsWith('#/key/')) {
      await detailsView(view, context, decodeURIComponent(hash.slice('#/key/'.length)))
    } else if (hash === '#/create') {
      await createView(view, context)
    } else if (hash === '#/users') {
      await usersView(view, context)
    } else if (hash === '#/roles') {
      await rolesView(view, context)
    } else {
      await keysView(view, context)
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return sessionEnded()
    view.append(errorBox(err))
  }
  const heading = view.querySelector('h1')
  if (heading) {
    heading.tabIndex = -1
    heading.focus()
  }
}

/** The server refused the session's credential, even after a refresh: back to sign-in. */
function sessionEnded () {
  session.clear()
  context.me = null
  context.can = {}
  showSignIn('Your session ended: sign in again.')
}

// The views rethrow a 401 for the router to end the session. From a button or a form nothing
// awaits the handler: its rejection arrives here and ends the session the same way, instead of
// leaving a screen whose every action silently fails.
window.addEventListener('unhandledrejection', (event) => {
  if (!(event.reason instanceof ApiError) || event.reason.status !== 401) return
  event.preventDefault()
  if (context.me) sessionEnded()
})

signOutButton.addEventListener('click', async () => {
  try {
    await session.signOut()
    announce('Signed out')
  } catch (err) {
    announce(`Signed out here; the server answered: ${err.message}`)
  }
  context.me = null
  context.can = {}
  resetKeysList()
  location.hash = ''
  showSignIn('You are signed out.')
})

// The skip link moves focus without touching the hash the router reads.
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault()
  main.focus()
})
// A link to the view already shown shows it afresh (a new form after a key was created).
nav.addEventListener('click', (event) => {
  const link = event.target.closest('a')
  if (link && link.getAttribute('href') === location.hash) {
    event.preventDefault()
    route()
  }
})
window.addEventListener('hashchange', route)
route()
