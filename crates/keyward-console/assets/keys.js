// The keys list: search, sort by column, page with search_after, select and invalidate.

import { h, replace, field, errorBox, announce, confirmDialog, timeCell } from './ui.js'
import { pageRequest, keyStatus, SearchError } from './search.js'

/** Sortable columns: label and the query field they sort by. */
const COLUMNS = [
  ['Name', 'name'],
  ['Type', 'type'],
  ['Owner', 'username'],
  ['Realm', 'realm_name'],
  ['Created', 'creation'],
  ['Expires', 'expiration'],
  ['Status', 'invalidated']
]

/** The list's state survives leaving the view and coming back within the session. */
const state = {}
resetKeysList()

/** Forgets the search, sort and page: at sign-out, so the next user starts afresh. */
export function resetKeysList () {
  Object.assign(state, { text: '', field: 'creation', order: 'desc', size: 25, pages: [null], page: 0 })
}

export async function keysView (view, context) {
  const selected = new Set()
  const searchInput = h('input', { type: 'search', name: 'q', value: state.text, spellcheck: 'false' })
  const sizeSelect = h('select', { name: 'size' },
    [25, 50, 100].map((size) => h('option', { value: size, selected: size === state.size }, String(size))))
  const feedback = h('div', { class: 'errors' })
  const summary = h('p', { class: 'summary', 'aria-live': 'polite' })
  const tableHolder = h('div', { class: 'table-wrap' })
  const previous = h('button', { type: 'button' }, 'Previous page')
  const next = h('button', { type: 'button' }, 'Next page')
  const invalidateButton = h('button', { type: 'button', class: 'danger', disabled: true }, 'Invalidate selected')

  const form = h('form', { role: 'search', class: 'search', 'aria-label': 'Search API keys' },
    field('Search keys', searchInput,
      'Free text searches names. Also: type:rest, type:cross_cluster, owner:NAME, realm:NAME, ' +
      'status:active|expired|invalidated, metadata.KEY:VALUE, id:ID, name:PATTERN*; -term excludes.'),
    h('button', { type: 'submit', class: 'primary' }, 'Search'),
    field('Keys per page', sizeSelect))

  replace(view,
    h('div', { class: 'title-row' },
      h('h1', {}, 'API keys'),
      context.can.manageOwnKeys ? h('a', { class: 'button primary', href: '#/create' }, 'Create key') : null),
    context.can.manageAllKeys ? null : h('p', { class: 'notice' }, 'You see and manage only your own keys.'),
    form, feedback,
    h('div', { class: 'toolbar' }, invalidateButton, summary),
    tableHolder,
    h('nav', { class: 'pager', 'aria-label': 'Pages of keys' }, previous, next))

  const updateSelection = () => {
    invalidateButton.disabled = selected.size === 0
    invalidateButton.textContent = selected.size
      ? `Invalidate selected (${selected.size})`
      : 'Invalidate selected'
  }

  const load = async () => {
    replace(feedback)
    let body
    try {
      body = pageRequest({
        text: state.text,
        field: state.field,
        order: state.order,
        size: state.size,
        after: state.pages[state.page]
      })
    } catch (err) {
      if (err instanceof SearchError) {
        feedback.append(errorBox(err))
        return
      }
      throw err
    }
    let answer
    try {
      answer = await context.session.request('POST', '/_security/_query/api_key', body)
    } catch (err) {
      if (err.status === 401) throw err
      feedback.append(errorBox(err))
      return
    }
    const started = performance.now()
    selected.clear()
    updateSelection()
    renderTable(answer.api_keys)
    // Layout included: the figure is what the user waits for after the answer arrived.
    void tableHolder.offsetHeight
    view.dataset.renderMs = (performance.now() - started).toFixed(1)
    const first = state.page * state.size + 1
    const last = state.page * state.size + answer.count
    summary.textContent = answer.count
      ? `Keys ${first}–${last} of ${answer.total}`
      : 'No keys match.'
    previous.disabled = state.page === 0
    const lastKey = answer.api_keys[answer.api_keys.length - 1]
    next.disabled = !(lastKey && lastKey._sort && last < answer.total)
    if (!next.disabled) state.pages[state.page + 1] = lastKey._sort
    // Counts the pages shown, so a test (or a user's script) can tell a new one arrived.
    view.dataset.loads = String(Number(view.dataset.loads || 0) + 1)
  }

  const renderTable = (keys) => {
    const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select all keys on this page' })
    const rowBoxes = []
    const header = h('tr', {},
      h('th', { scope: 'col', class: 'select' }, selectAll),
      COLUMNS.map(([label, sortField]) => {
        const active = state.field === sortField
        const sort = active ? (state.order === 'asc' ? 'ascending' : 'descending') : 'none'
        return h('th', { scope: 'col', 'aria-sort': sort },
          h('button', {
            type: 'button',
            class: 'sort',
            onclick: () => {
              if (state.field === sortField) state.order = state.order === 'asc' ? 'desc' : 'asc'
              else { state.field = sortField; state.order = 'asc' }
              state.pages = [null]
              state.page = 0
              load().then(() => view.querySelector(`th[aria-sort]:not([aria-sort="none"]) button`)?.focus())
            }
          }, label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : '')))
      }))
    const rows = document.createDocumentFragment()
    for (const key of keys) {
      const status = keyStatus(key)
      const box = h('input', {
        type: 'checkbox',
        'aria-label': `Select ${key.name || key.id}`,
        disabled: status === 'invalidated',
        onchange: (event) => {
          if (event.target.checked) selected.add(key.id)
          else selected.delete(key.id)
          updateSelection()
        }
      })
      rowBoxes.push(box)
      rows.append(h('tr', { dataset: { id: key.id } },
        h('td', { class: 'select' }, box),
        h('th', { scope: 'row' }, h('a', { href: `#/key/${encodeURIComponent(key.id)}` }, key.name || '(no name)')),
        h('td', {}, key.type === 'cross_cluster' ? 'cross-cluster' : 'REST'),
        h('td', {}, key.username),
        h('td', {}, key.realm),
        h('td', {}, timeCell(key.creation)),
        h('td', {}, timeCell(key.expiration)),
        h('td', {}, h('span', { class: `badge ${status}` }, status))))
    }
    selectAll.addEventListener('change', () => {
      for (const box of rowBoxes) {
        if (box.disabled) continue
        box.checked = selectAll.checked
        box.dispatchEvent(new Event('change'))
      }
    })
    replace(tableHolder, h('table', { class: 'keys' },
      h('caption', { class: 'visually-hidden' }, 'API keys, sortable by column'),
      h('thead', {}, header), h('tbody', {}, rows)))
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    state.text = searchInput.value
    state.size = Number(sizeSelect.value)
    state.pages = [null]
    state.page = 0
    load()
  })
  sizeSelect.addEventListener('change', () => form.requestSubmit())
  previous.addEventListener('click', () => {
    if (state.page > 0) state.page -= 1
    load()
  })
  next.addEventListener('click', () => {
    state.page += 1
    load()
  })
  invalidateButton.addEventListener('click', async () => {
    const ids = [...selected]
    const confirmed = await confirmDialog('Invalidate keys',
      `Invalidate ${ids.length} key${ids.length === 1 ? '' : 's'}? Clients using them are refused at once. This cannot be undone.`,
      'Invalidate')
    if (!confirmed) return invalidateButton.focus()
    try {
      const answer = await context.session.request('DELETE', '/_security/api_key', { ids })
      const errors = answer.error_count || 0
      announce(`Invalidated ${answer.invalidated_api_keys.length} key(s)` +
        (errors ? `; ${errors} could not be invalidated` : ''))
      await load()
      if (errors) {
        const reasons = (answer.error_details || []).map((detail) => detail.reason).join('; ')
        feedback.append(errorBox(new Error(`${errors} key(s) not invalidated: ${reasons}`)))
      }
    } catch (err) {
      if (err.status === 401) throw err
      feedback.append(errorBox(err))
    }
  })

  await load()
}
