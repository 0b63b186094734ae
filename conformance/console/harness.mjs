// What the console's browser test and the screenshot generator share: a fresh keyward (the
// release binary on a free loopback port, its bootstrap user `elastic`), API calls from Node,
// Debian's Chromium through playwright-core (nothing downloads a browser) and axe-core.
//
// KEYWARD_BIN names the binary (default: target/release/keyward from the repo root);
// CHROMIUM the browser (default: /usr/bin/chromium).

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
export const binary = process.env.KEYWARD_BIN ?? resolve(here, '../../target/release/keyward')
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium'
export const PASSWORD = 'keyward-console-conformance'

/**
 * A keyward on a fresh data directory; `stop()` ends it and removes the directory.
 * `settings` are more `name=value` settings, each passed as `-E`.
 */
export async function startKeyward ({ settings = [] } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyward-console-'))
  const args = ['serve', '-E', 'http.port=0', '-E', `path.data=${dataDir}`, ...settings.flatMap((setting) => ['-E', setting])]
  const child = spawn(binary, args, {
    env: { ...process.env, ELASTIC_PASSWORD: PASSWORD },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error('keyward did not start within 30s')), 30_000)
    child.once('exit', (code) => reject(new Error(`keyward exited early with code ${code}`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^keyward listening on (http:\/\/\S+)$/.exec(line)
      if (match) {
        clearTimeout(timer)
        resolveUrl(match[1])
      }
    })
  })
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolveExit) => child.once('exit', resolveExit))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  return { url, stop }
}

/** `Authorization` for a user's password. */
export function basic (username, password) {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64')
}

/** One API call from Node: `{ status, body }`. */
export async function api (url, method, path, { auth = basic('elastic', PASSWORD), body } = {}) {
  const headers = { Accept: 'application/json' }
  if (auth) headers.Authorization = auth
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  const response = await fetch(url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null }
}

/** Creates keys `count` at a time in parallel; returns the create answers. */
export async function createKeys (url, bodies, { auth, parallel = 8 } = {}) {
  const created = []
  for (let start = 0; start < bodies.length; start += parallel) {
    const answers = await Promise.all(bodies.slice(start, start + parallel).map((body) =>
      api(url, 'POST', '/_security/api_key', { auth, body })))
    for (const answer of answers) {
      if (answer.status !== 200) throw new Error(`create failed: ${JSON.stringify(answer.body)}`)
      created.push(answer.body)
    }
  }
  return created
}

/** Debian's Chromium, headless. Root needs --no-sandbox. */
export function launchBrowser () {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage']
  })
}

/** A page on the console of `url`, with clipboard access, collecting CSP violations. */
export async function consolePage (browser, url, { viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url })
  const page = await context.newPage()
  const violations = []
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text())
  })
  page.on('pageerror', (err) => violations.push(`page error: ${err.message}`))
  await page.goto(url + '/_keyward/console/')
  return { context, page, violations }
}

/** Signs in through the form with a username and password. */
export async function signIn (page, username, password) {
  await page.getByLabel('Username', { exact: true }).fill(username)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('#whoami').waitFor()
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

/**
 * axe-core on the page as it is (WCAG 2 A and AA rules and best practices): the serious and
 * critical violations, each as `rule: target…`. The script is evaluated through the
 * browser's debugging protocol, so the page's CSP (no inline script) stays on.
 */
export async function axeViolations (page) {
  await page.evaluate(axeSource)
  const results = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }
  }))
  return results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`)
}
