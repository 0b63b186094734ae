// Small DOM helpers. Text from the server is always set as text (never as HTML), so no key
// name, metadata value or error reason can inject markup.

/** Creates an element: `h('a', { href: '#/keys' }, 'Keys')`. */
export function h (tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value)
    } else if (name === 'class') {
      element.className = value
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value)
    } else if (value === true) {
      element.setAttribute(name, '')
    } else {
      element.setAttribute(name, String(value))
    }
  }
  append(element, children)
  return element
}

function append (element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(element, child)
    else element.append(child instanceof Node ? child : String(child))
  }
}

/** Replaces everything in `element` with `children`. */
export function replace (element, ...children) {
  element.replaceChildren()
  append(element, children)
}

let counter = 0
/** A fresh id for label/field pairs. */
export function uid (prefix) {
  counter += 1
  return `${prefix}-${counter}`
}

/** A labelled field: the label, the control, and an optional hint tied to it. */
export function field (label, control, hint) {
  const id = control.id || uid('field')
  control.id = id
  const parts = [h('label', { for: id }, label), control]
  if (hint) {
    const hintId = `${id}-hint`
    control.setAttribute('aria-describedby', hintId)
    parts.push(h('p', { class: 'hint', id: hintId }, hint))
  }
  return h('div', { class: 'field' }, parts)
}

/** Says `text` to screen readers and shows it in the status line. */
export function announce (text) {
  const status = document.getElementById('status')
  if (status) status.textContent = text
}

/** An error box for `err` (an ApiError's reason, as the server worded it). */
export function errorBox (err) {
  const status = err && err.status ? ` (${err.status}${err.type ? ' ' + err.type : ''})` : ''
  return h('div', { class: 'error', role: 'alert' },
    h('strong', {}, err && err.status === 403 ? 'Not allowed: ' : 'Error: '),
    `${err && err.message ? err.message : String(err)}${status}`)
}

/** Asks for confirmation in a modal dialog; resolves true when confirmed. */
export function confirmDialog (title, message, confirmLabel) {
  return new Promise((resolve) => {
    const titleId = uid('dialog-title')
    const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'confirm' },
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', value: 'yes', onclick: () => dialog.close('yes') }, confirmLabel),
        h('button', { type: 'button', value: 'no', onclick: () => dialog.close('no') }, 'Cancel')))
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue === 'yes')
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}

const units = [
  ['year', 365 * 24 * 3600 * 1000],
  ['month', 30 * 24 * 3600 * 1000],
  ['day', 24 * 3600 * 1000],
  ['hour', 3600 * 1000],
  ['minute', 60 * 1000],
  ['second', 1000]
]
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })

/** "in 3 days", "2 hours ago". */
export function relativeTime (millis, now = Date.now()) {
  const delta = millis - now
  for (const [unit, size] of units) {
    if (Math.abs(delta) >= size || unit === 'second') {
      return relative.format(Math.round(delta / size), unit)
    }
  }
  return ''
}

/** An absolute UTC time, as ISO 8601 without milliseconds. */
export function absoluteTime (millis) {
  return new Date(millis).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A <time> showing the relative time, the absolute one beside it. */
export function timeCell (millis, empty = 'never') {
  if (!millis) return h('span', { class: 'muted' }, empty)
  const absolute = absoluteTime(millis)
  return h('time', { datetime: absolute, title: absolute },
    relativeTime(millis), h('span', { class: 'absolute' }, absolute))
}

/** JSON, indented, in a <pre> with a label for screen readers. */
export function jsonBlock (label, value) {
  // A focusable region, so a keyboard can scroll a wide document.
  return h('pre', { class: 'json', tabindex: 0, role: 'region', 'aria-label': label }, JSON.stringify(value, null, 2))
}

/** Parses a JSON text field; throws an Error naming the field when it is not JSON. */
export function parseJsonField (label, text, empty) {
  if (!text.trim()) return empty
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new Error(`${label} is not valid JSON: ${err.message}`)
  }
}

/** Copies `text` to the clipboard; reports how it went. */
export async function copy (text, what) {
  try {
    await navigator.clipboard.writeText(text)
    announce(`${what} copied to the clipboard`)
  } catch (err) {
    announce(`Could not copy ${what}: select it and copy it by hand`)
  }
}
