// The web console in Debian's Chromium against a fresh keyward: sign-in, the keys list
// (search, sort, paging with search_after), create with the secret shown once, update,
// invalidate (single and bulk), users (create, edit, delete) and roles (create, edit, delete),
// a manage_own_api_key user's restricted view, API key sign-in, sign-out (the access token is
// refused afterwards), the access token's refresh before it expires and the return to sign-in
// once it is refused (invalidated or expired, from a view or a button), and axe-core on every
// main screen. Everything the test checks, it checks as a user sees it, or through the API
// from Node.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  PASSWORD, api, basic, createKeys, startKeyward, launchBrowser, consolePage, signIn, axeViolations
} from './harness.mjs'
import { setTimeout as sleep } from 'node:timers/promises'

/** More than one page of the default 25 and one of the largest, 100. */
const SEEDED = 120
const ALICE_PASSWORD = 'alice-password'

let server
let url
let browser
let admin
let page

async function assertAccessible (screen) {
  const violations = await axeViolations(page)
  assert.deepEqual(violations, [], `axe on ${screen}`)
}

/** Runs `action` and waits until the keys list has shown the page it asked for. */
async function newPage (action) {
  const loads = await page.locator('.view').getAttribute('data-loads')
  await action()
  await page.waitForFunction((before) => {
    const view = document.querySelector('.view')
    return view && view.dataset.loads !== undefined && view.dataset.loads !== before
  }, loads)
}

async function search (text) {
  await page.getByLabel('Search keys').fill(text)
  await newPage(() => page.getByRole('button', { name: 'Search', exact: true }).click())
}

/** Searches for text the list refuses before asking the server. */
async function badSearch (text) {
  await page.getByLabel('Search keys').fill(text)
  await page.getByRole('button', { name: 'Search', exact: true }).click()
}

async function rowNames () {
  return page.locator('table.keys tbody th[scope=row]').allTextContents()
}

/** Waits until the summary line says `text`. */
async function summaryIs (text) {
  await page.locator('.summary', { hasText: text }).waitFor()
}

before(async () => {
  server = await startKeyward()
  url = server.url
  const bodies = Array.from({ length: SEEDED }, (_, index) => ({
    name: `bulk-${String(index).padStart(3, '0')}`,
    metadata: { batch: 'paging', parity: index % 2 ? 'odd' : 'even' }
  }))
  await createKeys(url, bodies)
  let reply = await api(url, 'PUT', '/_security/role/own_keys', {
    body: { cluster: ['manage_own_api_key', 'manage_token'] }
  })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  reply = await api(url, 'PUT', '/_security/user/alice', {
    body: { password: ALICE_PASSWORD, roles: ['own_keys'], full_name: 'Alice' }
  })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  await createKeys(url, [{ name: 'alice-one' }, { name: 'alice-two' }], { auth: basic('alice', ALICE_PASSWORD) })
  browser = await launchBrowser()
  admin = await consolePage(browser, url)
  page = admin.page
})

after(async () => {
  await browser?.close()
  await server?.stop()
})

test('the sign-in screen is accessible and a wrong password shows the server\'s reason', async () => {
  await page.getByRole('heading', { name: 'Sign in to keyward' }).waitFor()
  await assertAccessible('sign-in')
  await page.getByLabel('Username', { exact: true }).fill('elastic')
  await page.getByLabel('Password', { exact: true }).fill('wrong')
  await page.getByRole('button', { name: 'Sign in' }).click()
  const alert = page.getByRole('alert')
  await alert.waitFor()
  assert.match(await alert.textContent(), /unable to authenticate user \[elastic\]/)
})

test('elastic signs in and sees every section', async () => {
  await signIn(page, 'elastic', PASSWORD)
  assert.equal(await page.locator('#whoami').textContent(), 'elastic')
  const links = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()
  assert.deepEqual(links, ['API keys', 'Create key', 'Users', 'Roles'])
  await summaryIs(`Keys 1–25 of ${SEEDED + 2}`)
  assert.equal((await rowNames()).length, 25)
  await assertAccessible('keys list')
})

test('paging walks every key once with search_after', async () => {
  const requests = []
  page.on('request', (request) => {
    if (request.url().endsWith('/_security/_query/api_key')) requests.push(request.postDataJSON())
  })
  const seen = []
  for (;;) {
    seen.push(...await page.locator('table.keys tbody tr').evaluateAll((rows) => rows.map((row) => row.dataset.id)))
    const next = page.getByRole('button', { name: 'Next page' })
    if (await next.isDisabled()) break
    await newPage(() => next.click())
  }
  assert.equal(seen.length, SEEDED + 2)
  assert.equal(new Set(seen).size, SEEDED + 2)
  assert.equal(requests.length, 4, 'four more pages after the first')
  for (const body of requests) {
    assert.equal(body.from, undefined)
    assert.ok(Array.isArray(body.search_after), 'later pages use search_after')
  }
  await page.getByRole('button', { name: 'Previous page' }).click()
  await summaryIs(`Keys 76–100 of ${SEEDED + 2}`)
})

test('a page of 100 keys renders; the render time is measured', async () => {
  await page.getByLabel('Keys per page').selectOption('100')
  await summaryIs(`Keys 1–100 of ${SEEDED + 2}`)
  // The figure only: speed is reported, never asserted. Each sample is one page of 100 keys
  // from a real answer, timed in the page from the parsed answer to the table laid out.
  const samples = [Number(await page.locator('.view').getAttribute('data-render-ms'))]
  for (let round = 0; round < 6; round += 1) {
    await newPage(() => page.getByRole('button', { name: 'Created' }).click())
    samples.push(Number(await page.locator('.view').getAttribute('data-render-ms')))
  }
  assert.ok(samples.every((sample) => sample >= 0))
  samples.sort((a, b) => a - b)
  console.log(`render of a 100-key page, ${samples.length} samples: median ${samples[samples.length >> 1]} ms, ` +
    `max ${samples[samples.length - 1]} ms (all: ${samples.join(', ')})`)
  await page.getByLabel('Keys per page').selectOption('25')
  await summaryIs(`Keys 1–25 of ${SEEDED + 2}`)
})

test('search: free text, field terms, metadata, status and negation', async () => {
  await search('bulk-007')
  assert.deepEqual(await rowNames(), ['bulk-007'])
  await search('owner:alice')
  assert.deepEqual((await rowNames()).sort(), ['alice-one', 'alice-two'])
  await search('metadata.parity:odd')
  await summaryIs(`of ${SEEDED / 2}`)
  await search('metadata.batch:paging -metadata.parity:odd status:active')
  await summaryIs(`of ${SEEDED / 2}`)
  await search('type:cross_cluster')
  await summaryIs('No keys match.')
  await badSearch('status:bogus')
  assert.match(await page.getByRole('alert').textContent(), /status is active, expired or invalidated/)
  await search('')
  await summaryIs(`Keys 1–25 of ${SEEDED + 2}`)
})

test('sorting by a column', async () => {
  await newPage(() => page.getByRole('button', { name: 'Name' }).click())
  await page.locator('th[aria-sort="ascending"]', { hasText: 'Name' }).waitFor()
  assert.deepEqual((await rowNames()).slice(0, 3), ['alice-one', 'alice-two', 'bulk-000'])
  await newPage(() => page.getByRole('button', { name: 'Name' }).click())
  await page.locator('th[aria-sort="descending"]', { hasText: 'Name' }).waitFor()
  assert.deepEqual((await rowNames()).slice(0, 2), ['bulk-119', 'bulk-118'])
  // Paging keeps the order: the second page of names, descending, continues the first.
  await newPage(() => page.getByRole('button', { name: 'Next page' }).click())
  assert.deepEqual((await rowNames()).slice(0, 2), ['bulk-094', 'bulk-093'])
  await newPage(() => page.getByRole('button', { name: 'Created' }).click())
  await page.locator('th[aria-sort="ascending"]', { hasText: 'Created' }).waitFor()
})

let created

test('create a REST key: the server\'s validation, then the secret shown once', async () => {
  await page.getByRole('link', { name: 'Create key' }).first().click()
  await page.getByRole('heading', { name: 'Create an API key' }).waitFor()
  await assertAccessible('create')
  await page.getByLabel('Name').fill('console-key')
  await page.getByLabel('Role descriptors (JSON)').fill('{"bad": {"cluster": ["no_such_privilege"]}}')
  await page.getByRole('button', { name: 'Create key' }).click()
  const alert = page.getByRole('alert')
  await alert.waitFor()
  assert.match(await alert.textContent(), /no_such_privilege/)

  await page.getByRole('button', { name: 'Cluster monitor' }).click()
  await page.getByLabel('Expiration').fill('1d')
  await page.getByLabel('Metadata (JSON object)').fill('{"team": "console"}')
  await page.getByRole('button', { name: 'Create key' }).click()
  await page.getByText('you will not see this again').waitFor()
  const encoded = await page.locator('#secret-encoded').inputValue()
  const id = await page.locator('#created-id').textContent()
  const pair = Buffer.from(encoded, 'base64').toString()
  assert.ok(pair.startsWith(`${id}:`))
  assert.equal(await page.locator('#secret-beats').inputValue(), pair)
  assert.equal(await page.locator('#secret-logstash').inputValue(), pair)
  assert.match(await page.locator('#secret-curl').inputValue(), new RegExp(`Authorization: ApiKey ${encoded}`))
  assert.match(await page.locator('#secret-python').inputValue(), new RegExp(`api_key="${encoded}"`))
  await page.getByRole('button', { name: 'Copy Encoded' }).click()
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), encoded)
  await assertAccessible('secret')

  const health = await api(url, 'GET', '/_cluster/health', { auth: `ApiKey ${encoded}` })
  assert.equal(health.status, 200)
  assert.equal(health.body.status, 'green')
  created = { id, encoded }
})

test('create a cross-cluster key', async () => {
  await page.getByRole('link', { name: 'Create key' }).first().click()
  await page.getByRole('heading', { name: 'Create an API key' }).waitFor()
  await page.getByLabel('Cross-cluster API key').check()
  await page.getByLabel('Name').fill('console-cross-cluster')
  await page.getByRole('button', { name: 'Create key' }).click()
  await page.getByText('you will not see this again').waitFor()
  const id = await page.locator('#created-id').textContent()
  const reply = await api(url, 'GET', `/_security/api_key?id=${id}`)
  assert.equal(reply.body.api_keys[0].type, 'cross_cluster')
  assert.deepEqual(reply.body.api_keys[0].access.search[0].names, ['logs-*'])
  assert.deepEqual(reply.body.api_keys[0].access.replication[0].names, ['archive-*'])
})

test('details and update of a key', async () => {
  await page.evaluate((id) => { location.hash = `#/key/${id}` }, created.id)
  await page.getByRole('heading', { name: 'console-key' }).waitFor()
  assert.match(await page.getByLabel('Role descriptors', { exact: true }).textContent(), /"monitor"/)
  assert.match(await page.getByLabel('Limited by', { exact: true }).textContent(), /"superuser"/)
  await assertAccessible('details')
  await page.getByLabel('Metadata (JSON object)').fill('{"team": "updated"}')
  await page.getByRole('button', { name: 'Update key' }).click()
  await page.locator('#status', { hasText: 'Key updated' }).waitFor()
  await page.getByLabel('Metadata', { exact: true }).filter({ hasText: 'updated' }).waitFor()
  const reply = await api(url, 'GET', `/_security/api_key?id=${created.id}`)
  assert.deepEqual(reply.body.api_keys[0].metadata, { team: 'updated' })
})

test('invalidate a key: it is refused at once', async () => {
  await page.getByRole('button', { name: 'Invalidate key' }).click()
  const dialog = page.getByRole('dialog', { name: 'Invalidate key' })
  await dialog.waitFor()
  await dialog.getByRole('button', { name: 'Invalidate' }).click()
  await page.locator('#key-status', { hasText: 'invalidated' }).waitFor()
  const health = await api(url, 'GET', '/_cluster/health', { auth: `ApiKey ${created.encoded}` })
  assert.equal(health.status, 401)
})

test('bulk invalidation of the selected keys, after confirmation', async () => {
  await page.getByRole('link', { name: 'API keys' }).click()
  await search('name:bulk-00*')
  await summaryIs('of 10')
  await page.getByLabel('Select all keys on this page').check()
  await page.getByRole('button', { name: 'Invalidate selected (10)' }).click()
  const dialog = page.getByRole('dialog', { name: 'Invalidate keys' })
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await page.getByRole('button', { name: 'Invalidate selected (10)' }).click()
  await dialog.getByRole('button', { name: 'Invalidate' }).click()
  await page.locator('#status', { hasText: 'Invalidated 10 key(s)' }).waitFor()
  const reply = await api(url, 'POST', '/_security/_query/api_key', {
    body: { query: { bool: { filter: [{ prefix: { name: 'bulk-00' } }, { term: { invalidated: true } }] } } }
  })
  assert.equal(reply.body.total, 10)
  await search('status:invalidated')
  await summaryIs('of 11')
})

test('users: create, disable, change password', async () => {
  await page.getByRole('link', { name: 'Users' }).click()
  await page.getByRole('heading', { name: 'Users' }).waitFor()
  await assertAccessible('users')
  await page.getByRole('button', { name: 'New user' }).click()
  await page.getByLabel('Username').fill('bob')
  await page.getByLabel('Password', { exact: true }).fill('bob-password-1')
  await page.getByLabel('Roles').fill('viewer')
  await page.getByRole('button', { name: 'Create user' }).click()
  await page.getByRole('button', { name: 'Disable bob' }).waitFor()
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: basic('bob', 'bob-password-1') })).status, 200)
  await page.getByRole('button', { name: 'Change password of bob' }).click()
  await page.getByLabel('New password').fill('bob-password-2')
  await page.getByRole('button', { name: 'Change password', exact: true }).click()
  await page.getByText('The password of bob was changed.').waitFor()
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: basic('bob', 'bob-password-2') })).status, 200)
  await page.getByRole('button', { name: 'Disable bob' }).click()
  await page.getByRole('button', { name: 'Enable bob' }).waitFor()
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: basic('bob', 'bob-password-2') })).status, 401)
})

test('users: edit roles, full name and email; the password and state stay', async () => {
  await page.getByRole('button', { name: 'Edit bob' }).click()
  const form = page.getByRole('form', { name: 'Edit bob' })
  assert.equal(await form.getByLabel('Username').inputValue(), 'bob')
  assert.equal(await form.getByLabel('Username').getAttribute('readonly'), '')
  assert.equal(await form.getByLabel('Roles').inputValue(), 'viewer')
  await assertAccessible('user editor')
  await form.getByLabel('Roles').fill('viewer, editor')
  await form.getByLabel('Full name').fill('Bob Builder')
  await form.getByLabel('Email').fill('bob@example.com')
  await form.getByRole('button', { name: 'Save user' }).click()
  await form.waitFor({ state: 'detached' })
  await page.getByRole('cell', { name: 'Bob Builder', exact: true }).waitFor()
  await page.getByRole('cell', { name: 'viewer, editor', exact: true }).waitFor()
  const { body } = await api(url, 'GET', '/_security/user/bob')
  assert.deepEqual(body.bob.roles, ['viewer', 'editor'])
  assert.equal(body.bob.full_name, 'Bob Builder')
  assert.equal(body.bob.email, 'bob@example.com')
  assert.equal(body.bob.enabled, false, 'editing keeps the user disabled')

  // Enabled again, bob signs in with the password he had: the edit did not touch it.
  await page.getByRole('button', { name: 'Enable bob' }).click()
  await page.getByRole('button', { name: 'Disable bob' }).waitFor()
  const me = await api(url, 'GET', '/_security/_authenticate', { auth: basic('bob', 'bob-password-2') })
  assert.equal(me.status, 200)
  assert.deepEqual(me.body.roles, ['viewer', 'editor'])

  // Emptied fields are cleared.
  await page.getByRole('button', { name: 'Edit bob' }).click()
  await form.getByLabel('Email').fill('')
  await form.getByRole('button', { name: 'Save user' }).click()
  await form.waitFor({ state: 'detached' })
  const after = await api(url, 'GET', '/_security/user/bob')
  assert.ok(!after.body.bob.email, `email cleared: ${JSON.stringify(after.body.bob)}`)
  assert.equal(after.body.bob.full_name, 'Bob Builder')
})

test('users: delete after confirmation; the user is gone and cannot authenticate', async () => {
  const reply = await api(url, 'PUT', '/_security/user/carol', {
    body: { password: 'carol-password', roles: ['viewer'], full_name: 'Carol' }
  })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: basic('carol', 'carol-password') })).status, 200)
  // The link to the view already shown shows it afresh, now with carol.
  await page.getByRole('link', { name: 'Users' }).click()
  await page.getByRole('button', { name: 'Delete carol' }).click()
  const dialog = page.getByRole('dialog', { name: 'Delete user' })
  await dialog.waitFor()
  assert.match(await dialog.textContent(), /Delete the user carol\?/)
  await assertAccessible('delete user dialog')
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await dialog.waitFor({ state: 'detached' })
  assert.equal((await api(url, 'GET', '/_security/user/carol')).status, 200, 'Cancel deletes nothing')

  await page.getByRole('button', { name: 'Delete carol' }).click()
  await dialog.getByRole('button', { name: 'Delete' }).click()
  await page.getByRole('button', { name: 'Delete carol' }).waitFor({ state: 'detached' })
  await page.locator('#status', { hasText: 'carol deleted' }).waitFor()
  assert.equal((await api(url, 'GET', '/_security/user/carol')).status, 404)
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: basic('carol', 'carol-password') })).status, 401)
  await page.getByRole('button', { name: 'Delete bob' }).waitFor()
})

test('roles: create from JSON, delete', async () => {
  await page.getByRole('link', { name: 'Roles' }).click()
  await page.getByRole('heading', { name: 'Roles' }).waitFor()
  await assertAccessible('roles')
  await page.getByRole('button', { name: 'New role' }).click()
  await page.getByLabel('Role name').fill('console-role')
  await page.getByRole('button', { name: 'Create role' }).click()
  await page.getByRole('button', { name: 'Delete console-role' }).waitFor()
  assert.deepEqual((await api(url, 'GET', '/_security/role/console-role')).body['console-role'].cluster, ['monitor'])
  await page.getByRole('button', { name: 'Delete console-role' }).click()
  await page.getByRole('dialog', { name: 'Delete role' }).getByRole('button', { name: 'Delete' }).click()
  await page.getByRole('heading', { name: 'Roles' }).waitFor()
  await page.getByRole('button', { name: 'Delete console-role' }).waitFor({ state: 'detached' })
  assert.equal((await api(url, 'GET', '/_security/role/console-role')).status, 404)
})

test('roles: edit the JSON; invalid JSON and a role the server refuses change nothing', async () => {
  let reply = await api(url, 'PUT', '/_security/role/console-edit', {
    body: { cluster: ['monitor'], indices: [{ names: ['logs-*'], privileges: ['read'] }], metadata: { owner: 'console' } }
  })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  await page.getByRole('link', { name: 'Roles' }).click()
  await page.getByRole('button', { name: 'Edit console-edit' }).click()
  const form = page.getByRole('form', { name: 'Edit console-edit' })
  const json = form.getByLabel('Role (JSON)')
  const shown = JSON.parse(await json.inputValue())
  assert.deepEqual(shown.cluster, ['monitor'])
  assert.deepEqual(shown.metadata, { owner: 'console' })
  await assertAccessible('role editor')
  const edited = {
    cluster: ['monitor', 'manage_own_api_key'],
    indices: [{ names: ['app-*'], privileges: ['read', 'view_index_metadata'] }],
    metadata: { owner: 'console', edited: true }
  }
  await json.fill(JSON.stringify(edited, null, 2))
  await form.getByRole('button', { name: 'Save role' }).click()
  await form.waitFor({ state: 'detached' })
  await page.getByRole('cell', { name: 'monitor, manage_own_api_key', exact: true }).waitFor()
  await page.getByRole('cell', { name: 'app-*: read,view_index_metadata', exact: true }).waitFor()
  reply = await api(url, 'GET', '/_security/role/console-edit')
  const saved = reply.body['console-edit']
  assert.deepEqual(saved.cluster, edited.cluster)
  assert.deepEqual(saved.indices.map(({ names, privileges }) => ({ names, privileges })), edited.indices)
  assert.deepEqual(saved.metadata, edited.metadata)

  let puts = 0
  const countPuts = (request) => {
    if (request.method() === 'PUT' && request.url().endsWith('/_security/role/console-edit')) puts += 1
  }
  page.on('request', countPuts)
  try {
    // Invalid JSON is refused in the page: nothing is sent.
    await page.getByRole('button', { name: 'Edit console-edit' }).click()
    await json.fill('{"cluster": ["monitor"')
    await form.getByRole('button', { name: 'Save role' }).click()
    await form.getByRole('alert').filter({ hasText: 'Role is not valid JSON' }).waitFor()
    assert.equal(puts, 0)
    // A role the server refuses: its reason is shown, the form stays to be corrected.
    await json.fill('{"cluster": ["no_such_privilege"]}')
    await form.getByRole('button', { name: 'Save role' }).click()
    const alert = form.getByRole('alert').filter({ hasText: 'no_such_privilege' })
    await alert.waitFor()
    assert.match(await alert.textContent(), /\(400\b/)
    assert.equal(puts, 1)
    await assertAccessible('role editor with an error')
    await form.getByRole('button', { name: 'Cancel' }).click()
    await form.waitFor({ state: 'detached' })
  } finally {
    page.off('request', countPuts)
  }
  reply = await api(url, 'GET', '/_security/role/console-edit')
  assert.deepEqual(reply.body['console-edit'], saved, 'the refused edits changed nothing')
})

test('sign-out invalidates the access token', async () => {
  let bearer = null
  page.on('request', (request) => {
    const authorization = request.headers().authorization
    if (authorization && authorization.startsWith('Bearer ')) bearer = authorization
  })
  await page.getByRole('link', { name: 'API keys' }).click()
  await page.locator('.summary').waitFor()
  assert.ok(bearer, 'the console calls the API with its access token')
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: bearer })).status, 200)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in to keyward' }).waitFor()
  assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: bearer })).status, 401)
  assert.deepEqual(admin.violations, [])
})

test('a manage_own_api_key user sees only her keys and no users or roles', async () => {
  const { context, page: alicePage, violations } = await consolePage(browser, url)
  const previous = page
  page = alicePage
  try {
    await signIn(page, 'alice', ALICE_PASSWORD)
    const links = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()
    assert.deepEqual(links, ['API keys', 'Create key'])
    await page.getByText('You see and manage only your own keys.').waitFor()
    await summaryIs('Keys 1–2 of 2')
    assert.deepEqual((await rowNames()).sort(), ['alice-one', 'alice-two'])
    await assertAccessible('restricted keys list')
    // The page has no link there; typed in the address bar, the server refuses.
    await page.evaluate(() => { location.hash = '#/users' })
    const alert = page.getByRole('alert')
    await alert.waitFor()
    assert.match(await alert.textContent(), /Not allowed: action \[cluster:admin\/xpack\/security\/user\/get\] is unauthorized for user \[alice\]/)
    assert.deepEqual(violations, [])
  } finally {
    page = previous
    await context.close()
  }
})

test('signing in with an encoded API key', async () => {
  const [key] = await createKeys(url, [{ name: 'console-sign-in' }])
  await page.getByLabel('API key', { exact: true }).check()
  await page.getByLabel('Encoded API key').fill(key.encoded)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#whoami', { hasText: 'API key console-sign-in (elastic)' }).waitFor()
  await summaryIs(`Keys 1–25 of ${SEEDED + 2 + 2 + 1}`)
})

/**
 * A console page of its own (its own browser context), signed in as elastic, that records the
 * access token it last sent (`seen.bearer`), its token grants and how many API requests it made.
 */
async function sessionPage (server = url) {
  const opened = await consolePage(browser, server)
  const seen = { bearer: null, grants: [], requests: 0 }
  opened.page.on('request', (request) => {
    if (!new URL(request.url()).pathname.startsWith('/_security/')) return
    seen.requests += 1
    const authorization = request.headers().authorization
    if (request.method() === 'POST' && request.url().endsWith('/_security/oauth2/token')) {
      seen.grants.push({ grant: request.postDataJSON().grant_type, authorization })
    } else if (authorization && authorization.startsWith('Bearer ')) {
      seen.bearer = authorization
    }
  })
  await signIn(opened.page, 'elastic', PASSWORD)
  await opened.page.locator('.summary').waitFor()
  assert.ok(seen.bearer, 'the console calls the API with an access token')
  return { ...opened, seen }
}

/** Invalidates an access token (`Bearer …`) from Node. */
async function invalidate (bearer, server = url) {
  const reply = await api(server, 'DELETE', '/_security/oauth2/token', { body: { token: bearer.slice('Bearer '.length) } })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  assert.equal(reply.body.invalidated_tokens, 1)
  assert.equal((await api(server, 'GET', '/_security/_authenticate', { auth: bearer })).status, 401)
}

const SESSION_ENDED = 'Your session ended: sign in again.'

/** The sign-in screen, with the message that says why. */
async function backAtSignIn (signInPage) {
  await signInPage.getByRole('heading', { name: 'Sign in to keyward' }).waitFor()
  await signInPage.getByText(SESSION_ENDED).waitFor()
  assert.equal(await signInPage.getByRole('navigation', { name: 'Main' }).isHidden(), true)
}

test('token refresh: shortly before the access token expires, the console exchanges its refresh token and carries on', async () => {
  const { context, page: tokenPage, violations, seen } = await sessionPage()
  try {
    assert.deepEqual(seen.grants.map(({ grant }) => grant), ['password'])
    const first = seen.bearer
    // The page's clock moves to 30 s before the 20 minutes of the token end (the server's
    // clock does not: the token is still valid and may authenticate the exchange).
    await tokenPage.clock.setSystemTime(Date.now() + (20 * 60 - 30) * 1000)
    await tokenPage.getByRole('link', { name: 'Users' }).click()
    await tokenPage.getByRole('heading', { name: 'Users' }).waitFor()
    assert.deepEqual(seen.grants.map(({ grant }) => grant), ['password', 'refresh_token'])
    assert.equal(seen.grants[1].authorization, first, 'the current access token authenticates the exchange')
    assert.notEqual(seen.bearer, first, 'the view was read with the new access token')
    const me = await api(url, 'GET', '/_security/_authenticate', { auth: seen.bearer })
    assert.equal(me.status, 200)
    assert.equal(me.body.username, 'elastic')
    // The new token is good for another 20 minutes: no exchange before the next request.
    await tokenPage.getByRole('link', { name: 'Roles' }).click()
    await tokenPage.getByRole('heading', { name: 'Roles' }).waitFor()
    assert.equal(seen.grants.length, 2)
    assert.deepEqual(violations, [])
  } finally {
    await context.close()
  }
})

test('an invalidated access token: one refresh attempt, then the sign-in screen with a message; signing in again carries on', async () => {
  const { context, page: tokenPage, violations, seen } = await sessionPage()
  try {
    await invalidate(seen.bearer)
    const grants = seen.grants.length
    const requests = seen.requests
    await tokenPage.getByRole('link', { name: 'Users' }).click()
    await backAtSignIn(tokenPage)
    // The invalidated token cannot authenticate the exchange of its refresh token (which is
    // invalidated with it): one attempt, no loop.
    await sleep(1000)
    assert.deepEqual(seen.grants.slice(grants).map(({ grant }) => grant), ['refresh_token'])
    assert.equal(seen.requests - requests, 2, 'the refused request and the refused exchange, nothing more')
    assert.deepEqual(await axeViolations(tokenPage), [], 'axe on sign-in after the session ended')
    await signIn(tokenPage, 'elastic', PASSWORD)
    await tokenPage.getByRole('heading', { name: 'Users' }).waitFor()
    assert.equal((await api(url, 'GET', '/_security/_authenticate', { auth: seen.bearer })).status, 200)
    assert.deepEqual(violations, [])
  } finally {
    await context.close()
  }
})

test('a 401 from a button or form of the users view returns to sign-in and changes nothing', async () => {
  const reply = await api(url, 'PUT', '/_security/user/dave', {
    body: { password: 'dave-password', roles: ['viewer'], full_name: 'Dave' }
  })
  assert.equal(reply.status, 200, JSON.stringify(reply.body))
  const { context, page: tokenPage, violations, seen } = await sessionPage()
  const toUsers = async () => {
    await tokenPage.getByRole('link', { name: 'Users' }).click()
    await tokenPage.getByRole('button', { name: 'Disable dave' }).waitFor()
  }
  try {
    // A row button.
    await toUsers()
    await invalidate(seen.bearer)
    await tokenPage.getByRole('button', { name: 'Disable dave' }).click()
    await backAtSignIn(tokenPage)
    assert.equal((await api(url, 'GET', '/_security/user/dave')).body.dave.enabled, true)

    // The editor's submit.
    await signIn(tokenPage, 'elastic', PASSWORD)
    await toUsers()
    await tokenPage.getByRole('button', { name: 'Edit dave' }).click()
    await tokenPage.getByLabel('Full name').fill('Dave Changed')
    await invalidate(seen.bearer)
    await tokenPage.getByRole('button', { name: 'Save user' }).click()
    await backAtSignIn(tokenPage)
    assert.equal((await api(url, 'GET', '/_security/user/dave')).body.dave.full_name, 'Dave')

    // A deletion, after its confirmation.
    await signIn(tokenPage, 'elastic', PASSWORD)
    await toUsers()
    await invalidate(seen.bearer)
    await tokenPage.getByRole('button', { name: 'Delete dave' }).click()
    await tokenPage.getByRole('dialog', { name: 'Delete user' }).getByRole('button', { name: 'Delete' }).click()
    await backAtSignIn(tokenPage)
    assert.equal((await api(url, 'GET', '/_security/user/dave')).status, 200)

    // Signed in again, the same button works.
    await signIn(tokenPage, 'elastic', PASSWORD)
    await tokenPage.getByRole('heading', { name: 'Users' }).waitFor()
    await tokenPage.getByRole('button', { name: 'Disable dave' }).click()
    await tokenPage.getByRole('button', { name: 'Enable dave' }).waitFor()
    assert.equal((await api(url, 'GET', '/_security/user/dave')).body.dave.enabled, false)
    assert.deepEqual(violations, [], 'no unhandled errors in the page')
  } finally {
    await context.close()
  }
})

test('an expired access token (a keyward with 5 s tokens): refreshed while valid, then the sign-in screen', async () => {
  const short = await startKeyward({ settings: ['xpack.security.authc.token.timeout=5s'] })
  let opened
  try {
    opened = await sessionPage(short.url)
    const { page: tokenPage, violations, seen } = opened
    // A token shorter than the console's margin is exchanged before every request, with
    // itself as the caller: the session works while each exchange comes in time.
    assert.ok(seen.grants.filter(({ grant }) => grant === 'refresh_token').length >= 1)
    await tokenPage.getByRole('link', { name: 'Users' }).click()
    await tokenPage.getByRole('heading', { name: 'Users' }).waitFor()
    // Idle past the token's end: it can no longer authenticate anything, not even its exchange.
    const last = seen.bearer
    await sleep(6000)
    assert.equal((await api(short.url, 'GET', '/_security/_authenticate', { auth: last })).status, 401)
    const grants = seen.grants.length
    await tokenPage.getByRole('link', { name: 'Roles' }).click()
    await backAtSignIn(tokenPage)
    await sleep(500)
    assert.ok(seen.grants.length - grants <= 2, `a bounded number of exchange attempts: ${seen.grants.length - grants}`)
    await signIn(tokenPage, 'elastic', PASSWORD)
    await tokenPage.getByRole('heading', { name: 'Roles' }).waitFor()
    assert.deepEqual(violations, [])
  } finally {
    await opened?.context.close()
    await short.stop()
  }
})

test('console assets need no credentials and carry the security headers', async () => {
  const response = await fetch(`${url}/_keyward/console/app.js`)
  assert.equal(response.status, 200)
  assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8')
  assert.match(response.headers.get('content-security-policy'), /default-src 'self'/)
  assert.equal((await fetch(`${url}/_keyward/console/nope.js`)).status, 404)
})
