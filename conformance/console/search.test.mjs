// The search bar's translation into _query/api_key bodies, without a browser: the module the
// console serves, imported as it is.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toQuery, pageRequest, tokenize, keyStatus, SearchError } from '../../crates/keyward-console/assets/search.js'

test('empty text matches everything', () => {
  assert.deepEqual(toQuery(''), { match_all: {} })
  assert.deepEqual(toQuery('   '), { match_all: {} })
})

test('free text is a case-insensitive substring of the name, wildcards escaped', () => {
  assert.deepEqual(toQuery('Deploy'), {
    bool: { filter: [{ wildcard: { name: { value: '*Deploy*', case_insensitive: true } } }] }
  })
  assert.deepEqual(toQuery('a*b').bool.filter[0].wildcard.name.value, '*a\\*b*')
})

test('field terms, quoted values and negation', () => {
  assert.deepEqual(toQuery('type:cross_cluster owner:alice realm:native1 metadata.team:"search ops" -name:ci-*'), {
    bool: {
      filter: [
        { term: { type: 'cross_cluster' } },
        { term: { username: 'alice' } },
        { term: { realm_name: 'native1' } },
        { term: { 'metadata.team': 'search ops' } }
      ],
      must_not: [{ wildcard: { name: { value: 'ci-*' } } }]
    }
  })
  assert.deepEqual(tokenize('id:abc'), [{ negated: false, field: 'id', value: 'abc' }])
  assert.deepEqual(toQuery('id:abc'), { bool: { filter: [{ ids: { values: ['abc'] } }] } })
})

test('status terms', () => {
  assert.deepEqual(toQuery('status:invalidated').bool.filter, [{ term: { invalidated: true } }])
  assert.deepEqual(toQuery('status:expired').bool.filter, [{
    bool: { filter: [{ term: { invalidated: false } }, { range: { expiration: { lte: 'now' } } }] }
  }])
  const active = toQuery('status:active').bool.filter[0].bool
  assert.equal(active.minimum_should_match, 1)
  assert.deepEqual(active.filter, [{ term: { invalidated: false } }])
})

test('bad terms are refused with a message for the user', () => {
  assert.throws(() => toQuery('status:old'), SearchError)
  assert.throws(() => toQuery('type:other'), /type is rest or cross_cluster/)
  assert.throws(() => toQuery('colour:red'), /unknown search field \[colour\]/)
})

test('pages sort with _doc as the tie-breaker and continue with search_after, never from', () => {
  assert.deepEqual(pageRequest({ text: '', size: 25 }), {
    query: { match_all: {} },
    size: 25,
    sort: [{ creation: { order: 'desc' } }, { _doc: { order: 'desc' } }]
  })
  const next = pageRequest({ text: 'x', field: 'name', order: 'asc', size: 50, after: ['k', 7] })
  assert.deepEqual(next.search_after, ['k', 7])
  assert.deepEqual(next.sort, [{ name: { order: 'asc' } }, { _doc: { order: 'asc' } }])
  assert.equal(next.from, undefined)
})

test('status of a key as listed', () => {
  assert.equal(keyStatus({ invalidated: true }, 10), 'invalidated')
  assert.equal(keyStatus({ invalidated: false, expiration: 5 }, 10), 'expired')
  assert.equal(keyStatus({ invalidated: false, expiration: 50 }, 10), 'active')
  assert.equal(keyStatus({ invalidated: false }, 10), 'active')
})
