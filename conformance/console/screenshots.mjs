// Screenshots of the console for the README, in one command:
//
//   cd conformance/console && npm ci && node screenshots.mjs
//
// Starts a fresh keyward (the release binary), fills it with a few keys, users and roles,
// drives Debian's Chromium through the main screens and writes PNGs to docs/console/.

import { mkdirSync } from 'node:fs'
import { resolve, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PASSWORD, api, basic, createKeys, startKeyward, launchBrowser, consolePage, signIn } from './harness.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const out = resolve(here, '../../docs/console')
mkdirSync(out, { recursive: true })

const server = await startKeyward()
const browser = await launchBrowser()
try {
  const { url } = server
  const teams = ['search', 'ingest', 'billing', 'platform']
  await createKeys(url, Array.from({ length: 36 }, (_, index) => ({
    name: `${teams[index % teams.length]}-service-${index + 1}`,
    expiration: index % 3 === 0 ? `${(index % 5) + 1}d` : undefined,
    metadata: { team: teams[index % teams.length] },
    role_descriptors: index % 2 ? { reader: { indices: [{ names: ['logs-*'], privileges: ['read'] }] } } : undefined
  })))
  await api(url, 'POST', '/_security/cross_cluster/api_key', {
    body: { name: 'replication-to-dr', access: { replication: [{ names: ['archive-*'] }] } }
  })
  const [old] = await createKeys(url, [{ name: 'retired-ci-key' }])
  await api(url, 'DELETE', '/_security/api_key', { body: { ids: [old.id] } })
  await api(url, 'PUT', '/_security/role/own_keys', { body: { cluster: ['manage_own_api_key', 'manage_token'] } })
  await api(url, 'PUT', '/_security/user/alice', { body: { password: 'alice-password', roles: ['own_keys'], full_name: 'Alice Example', email: 'alice@example.com' } })
  await createKeys(url, [{ name: 'alice-laptop' }], { auth: basic('alice', 'alice-password') })

  const { page } = await consolePage(browser, url, { viewport: { width: 1280, height: 800 } })
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`) })
  await page.getByRole('heading', { name: 'Sign in to keyward' }).waitFor()
  await shot('sign-in')
  await signIn(page, 'elastic', PASSWORD)
  await page.locator('.summary', { hasText: 'Keys 1–25' }).waitFor()
  await shot('keys')
  await page.getByLabel('Search keys').fill('metadata.team:search status:active')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await page.locator('.summary', { hasText: 'of 9' }).waitFor()
  await shot('search')
  await page.getByRole('link', { name: 'Create key' }).first().click()
  await page.getByLabel('Name').fill('grafana-reader')
  await page.getByRole('button', { name: 'Read-only on index patterns' }).click()
  await page.getByLabel('Expiration').fill('90d')
  await shot('create')
  await page.getByRole('button', { name: 'Create key' }).click()
  await page.getByText('you will not see this again').waitFor()
  await shot('secret')
  await page.getByRole('link', { name: 'View the key' }).click()
  await page.getByRole('heading', { name: 'grafana-reader' }).waitFor()
  await page.screenshot({ path: join(out, 'details.png'), fullPage: true })
  await page.getByRole('link', { name: 'Users' }).click()
  await page.getByRole('heading', { name: 'Users' }).waitFor()
  await shot('users')
  const narrow = await consolePage(browser, url, { viewport: { width: 390, height: 844 } })
  await signIn(narrow.page, 'alice', 'alice-password')
  await narrow.page.locator('.summary', { hasText: 'of 1' }).waitFor()
  await narrow.page.screenshot({ path: join(out, 'restricted-narrow.png') })
  console.log(`screenshots written to ${out}`)
} finally {
  await browser.close()
  await server.stop()
}
