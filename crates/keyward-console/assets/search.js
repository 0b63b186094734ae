// The keys list's search bar: free text and `field:value` terms, translated into the bool
// query of `POST /_security/_query/api_key`. Pure functions, no DOM: the tests import them.
//
//   deploy                  name contains "deploy" (any case)
//   name:ci-*               name matches the wildcard
//   type:rest | type:cross_cluster
//   owner:alice             username
//   realm:native1           realm_name
//   status:active | status:expired | status:invalidated
//   metadata.team:search    a metadata value
//   id:<id>                 one key
//   -type:rest              any term negated
//
// Terms are ANDed; a value with spaces goes in double quotes (`metadata.team:"a b"`).

/** Splits the text into terms, keeping quoted values together. */
export function tokenize (text) {
  const terms = []
  const pattern = /(-?)([^\s:"]+:)?(?:"([^"]*)"?|(\S+))/g
  let match
  while ((match = pattern.exec(text)) !== null) {
    const [, negated, field, quoted, bare] = match
    const value = quoted !== undefined ? quoted : bare
    if (value === undefined || (value === '' && !field)) continue
    terms.push({ negated: negated === '-', field: field ? field.slice(0, -1) : null, value })
  }
  return terms
}

/** The clause for one term, or an error naming what was wrong with it. */
export function clause (term) {
  const { field, value } = term
  switch (field ? field.toLowerCase() : null) {
    case null:
      return { wildcard: { name: { value: `*${escapeWildcard(value)}*`, case_insensitive: true } } }
    case 'name':
      return /[*?]/.test(value)
        ? { wildcard: { name: { value } } }
        : { term: { name: value } }
    case 'type':
      if (value !== 'rest' && value !== 'cross_cluster') {
        throw new SearchError(`type is rest or cross_cluster, not [${value}]`)
      }
      return { term: { type: value } }
    case 'owner':
    case 'username':
      return { term: { username: value } }
    case 'realm':
    case 'realm_name':
      return { term: { realm_name: value } }
    case 'id':
      return { ids: { values: [value] } }
    case 'status':
      return statusClause(value)
    default:
      if (field.startsWith('metadata.') && field.length > 'metadata.'.length) {
        return /[*?]/.test(value)
          ? { wildcard: { [field]: { value } } }
          : { term: { [field]: value } }
      }
      throw new SearchError(`unknown search field [${field}]: use name, type, owner, realm, status, id or metadata.<key>`)
  }
}

function statusClause (value) {
  switch (value) {
    case 'active':
      return {
        bool: {
          filter: [{ term: { invalidated: false } }],
          should: [
            { bool: { must_not: [{ exists: { field: 'expiration' } }] } },
            { range: { expiration: { gt: 'now' } } }
          ],
          minimum_should_match: 1
        }
      }
    case 'expired':
      return {
        bool: {
          filter: [{ term: { invalidated: false } }, { range: { expiration: { lte: 'now' } } }]
        }
      }
    case 'invalidated':
      return { term: { invalidated: true } }
    default:
      throw new SearchError(`status is active, expired or invalidated, not [${value}]`)
  }
}

/** A search the console cannot translate; its message is shown next to the search bar. */
export class SearchError extends Error {}

/** The `query` for the search text: match_all when empty. */
export function toQuery (text) {
  const terms = tokenize(text || '')
  if (terms.length === 0) return { match_all: {} }
  const filter = []
  const mustNot = []
  for (const term of terms) {
    (term.negated ? mustNot : filter).push(clause(term))
  }
  const bool = {}
  if (filter.length) bool.filter = filter
  if (mustNot.length) bool.must_not = mustNot
  return { bool }
}

/**
 * The whole request body for one page: the query, a sort on `field` with `_doc` breaking ties
 * (so `search_after` never skips keys that share a value), and the previous page's last sort
 * values. Never `from`: a page deep in a large store costs the same as the first.
 */
export function pageRequest ({ text, field = 'creation', order = 'desc', size = 25, after = null }) {
  const body = {
    query: toQuery(text),
    size,
    sort: [{ [field]: { order } }, { _doc: { order } }]
  }
  if (after) body.search_after = after
  return body
}

function escapeWildcard (value) {
  return value.replace(/[\\*?]/g, (char) => '\\' + char)
}

/** The status of a key as the list shows it. */
export function keyStatus (key, now = Date.now()) {
  if (key.invalidated) return 'invalidated'
  if (key.expiration && key.expiration <= now) return 'expired'
  return 'active'
}
