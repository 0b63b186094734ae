// The official JavaScript client against a fresh keyward: create, authenticate, get, query,
// update, invalidate, clone and bulk grant API keys, with the client's product check and
// content-type checks left on.
//
// KEYWARD_BIN names the binary (default: target/release/keyward from the repo root).

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { Client, errors } from '@elastic/elasticsearch'

const here = dirname(fileURLToPath(import.meta.url))
const binary = process.env.KEYWARD_BIN ?? resolve(here, '../../target/release/keyward')
const password = 'keyward-js-conformance'

let server
let dataDir
let url
let admin

function startServer () {
  dataDir = mkdtempSync(join(tmpdir(), 'keyward-js-'))
  server = spawn(binary, ['serve', '-E', 'http.port=0', '-E', `path.data=${dataDir}`], {
    env: { ...process.env, ELASTIC_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  return new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('keyward did not start within 30s')), 30_000)
    server.once('exit', (code) => reject(new Error(`keyward exited early with code ${code}`)))
    createInterface({ input: server.stdout }).on('line', (line) => {
      const match = /^keyward listening on (http:\/\/\S+)$/.exec(line)
      if (match) {
        clearTimeout(timer)
        resolveUrl(match[1])
      }
    })
  })
}

before(async () => {
  url = await startServer()
  admin = new Client({ node: url, auth: { username: 'elastic', password } })
})

after(async () => {
  await admin?.close()
  server?.kill('SIGTERM')
  rmSync(dataDir, { recursive: true, force: true })
})

function keyClient (encoded) {
  return new Client({ node: url, auth: { apiKey: encoded } })
}

test('the product check passes: info answers as Elasticsearch 9', async () => {
  const info = await admin.info()
  assert.equal(info.version.number, '9.4.0')
  assert.equal(info.version.build_flavor, 'default')
  assert.equal(info.tagline, 'You Know, for Search')
})

test('create, then authenticate with the encoded key', async () => {
  const created = await admin.security.createApiKey({
    name: 'js-key',
    expiration: '1d',
    role_descriptors: { 'role-a': { cluster: ['all'] } },
    metadata: { application: 'js' }
  })
  assert.equal(created.name, 'js-key')
  assert.equal(created.id.length, 20)
  assert.equal(Buffer.from(created.encoded, 'base64').toString(), `${created.id}:${created.api_key}`)
  assert.ok(created.expiration > Date.now())

  const client = keyClient(created.encoded)
  try {
    const me = await client.security.authenticate()
    assert.equal(me.username, 'elastic')
    assert.equal(me.authentication_type, 'api_key')
    assert.deepEqual(me.api_key, { id: created.id, name: 'js-key', managed_by: 'elasticsearch' })
    assert.equal(me.authentication_realm.name, '_es_api_key')
    const health = await client.cluster.health()
    assert.equal(health.status, 'green')
  } finally {
    await client.close()
  }
})

test('get by id and by name pattern, with limited_by', async () => {
  const created = await admin.security.createApiKey({ name: 'js-get-1', metadata: { tier: 1 } })
  await admin.security.createApiKey({ name: 'js-get-2' })
  const byId = await admin.security.getApiKey({ id: created.id, with_limited_by: true })
  assert.equal(byId.api_keys.length, 1)
  const key = byId.api_keys[0]
  assert.equal(key.name, 'js-get-1')
  assert.equal(key.type, 'rest')
  assert.equal(key.invalidated, false)
  assert.deepEqual(key.metadata, { tier: 1 })
  assert.deepEqual(key.role_descriptors, {})
  assert.ok(Array.isArray(key.limited_by) && key.limited_by.length === 1)
  assert.ok('superuser' in key.limited_by[0])

  const byName = await admin.security.getApiKey({ name: 'js-get-*' })
  assert.deepEqual(byName.api_keys.map((k) => k.name).sort(), ['js-get-1', 'js-get-2'])
})

test('query finds keys by name prefix, sorted, with paging', async () => {
  for (const n of [1, 2, 3]) {
    await admin.security.createApiKey({ name: `js-query-${n}`, metadata: { n } })
  }
  const page = await admin.security.queryApiKeys({
    query: { prefix: { name: 'js-query-' } },
    sort: [{ name: { order: 'desc' } }],
    size: 2
  })
  assert.equal(page.total, 3)
  assert.equal(page.count, 2)
  assert.deepEqual(page.api_keys.map((k) => k.name), ['js-query-3', 'js-query-2'])
  assert.deepEqual(page.api_keys[0]._sort, ['js-query-3'])
  const rest = await admin.security.queryApiKeys({
    query: { prefix: { name: 'js-query-' } },
    sort: [{ name: { order: 'desc' } }],
    search_after: page.api_keys[1]._sort
  })
  assert.deepEqual(rest.api_keys.map((k) => k.name), ['js-query-1'])
  await assert.rejects(admin.security.queryApiKeys({ query: { match_phrase: { name: 'x' } } }), (err) => {
    assert.equal(err.statusCode, 400)
    return true
  })
})

test('update replaces metadata; a repeat is a noop; bulk update reports both', async () => {
  const created = await admin.security.createApiKey({ name: 'js-update' })
  const updated = await admin.security.updateApiKey({ id: created.id, metadata: { v: 2 } })
  assert.equal(updated.updated, true)
  const again = await admin.security.updateApiKey({ id: created.id, metadata: { v: 2 } })
  assert.equal(again.updated, false)
  const bulk = await admin.security.bulkUpdateApiKeys({ ids: [created.id, 'no-such-key-xxxxxxx'], metadata: { v: 3 } })
  assert.deepEqual(bulk.updated, [created.id])
  assert.equal(bulk.errors.count, 1)
  const got = await admin.security.getApiKey({ id: created.id })
  assert.deepEqual(got.api_keys[0].metadata, { v: 3 })
})

test('invalidate stops the key at once, and the client sees a 401 ResponseError', async () => {
  const created = await admin.security.createApiKey({ name: 'js-invalidate' })
  const client = keyClient(created.encoded)
  try {
    await client.security.authenticate()
    const result = await admin.security.invalidateApiKey({ ids: [created.id] })
    assert.deepEqual(result.invalidated_api_keys, [created.id])
    assert.equal(result.error_count, 0)
    await assert.rejects(client.security.authenticate(), (err) => {
      assert.ok(err instanceof errors.ResponseError)
      assert.equal(err.statusCode, 401)
      assert.equal(err.body.error.type, 'security_exception')
      return true
    })
  } finally {
    await client.close()
  }
})

test('errors arrive as Elasticsearch errors the client understands', async () => {
  await assert.rejects(admin.security.createApiKey({ name: 'x', metadata: { _bad: 1 } }), (err) => {
    assert.equal(err.statusCode, 400)
    assert.equal(err.body.error.type, 'action_request_validation_exception')
    return true
  })
  await assert.rejects(admin.security.updateApiKey({ id: 'does-not-exist-xxxxx' }), (err) => {
    assert.equal(err.statusCode, 404)
    assert.equal(err.body.error.type, 'resource_not_found_exception')
    return true
  })
  const wrong = new Client({ node: url, auth: { username: 'elastic', password: 'wrong-password' } })
  try {
    await assert.rejects(wrong.security.authenticate(), (err) => {
      assert.equal(err.statusCode, 401)
      return true
    })
  } finally {
    await wrong.close()
  }
})

test('clone copies the source key\'s privileges and owner under a new id', async () => {
  const source = await admin.security.createApiKey({
    name: 'js-source',
    role_descriptors: { narrow: { cluster: ['monitor'] } },
    metadata: { app: 'js' }
  })
  const clone = await admin.security.cloneApiKey({ api_key: source.encoded, name: 'js-clone', expiration: '1d' })
  assert.equal(clone.name, 'js-clone')
  assert.notEqual(clone.id, source.id)
  assert.ok(clone.expiration > Date.now())
  const { api_keys: [info] } = await admin.security.getApiKey({ id: clone.id })
  assert.deepEqual(info.metadata, { app: 'js', _cloned_from: source.id })
  assert.deepEqual(Object.keys(info.role_descriptors), ['narrow'])
  const client = keyClient(clone.encoded)
  try {
    const me = await client.security.authenticate()
    assert.equal(me.api_key.name, 'js-clone')
  } finally {
    await client.close()
  }
  await assert.rejects(
    admin.security.cloneApiKey({ api_key: Buffer.from(`${source.id}:wrong`).toString('base64'), name: 'x' }),
    (err) => err instanceof errors.ResponseError && err.statusCode === 403 &&
      err.body.error.reason === 'Failed to clone API key'
  )
})

test('bulk grant through the client\'s transport creates every key for the grantee', async () => {
  await admin.security.putRole({ name: 'js-bulk', cluster: ['monitor'] })
  await admin.security.putUser({ username: 'js-bulk-user', password: 'js-bulk-password', roles: ['js-bulk'] })
  // This client version has no method for the API yet: its transport sends it.
  const reply = await admin.transport.request({
    method: 'POST',
    path: '/_security/api_key/_bulk_grant',
    body: {
      grant_type: 'password',
      username: 'js-bulk-user',
      password: 'js-bulk-password',
      api_keys: [{ name: 'js-rule-1' }, { name: 'js-rule-2', expiration: '1h' }]
    }
  })
  assert.deepEqual(reply.created.map((k) => k.name), ['js-rule-1', 'js-rule-2'])
  for (const key of reply.created) {
    const client = keyClient(key.encoded)
    try {
      const me = await client.security.authenticate()
      assert.equal(me.username, 'js-bulk-user')
    } finally {
      await client.close()
    }
  }
})
