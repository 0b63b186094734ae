// The console's only way to the server: keyward's public REST API, with the signed-in
// caller's own credential. An access token (and its refresh token) live in this module's
// memory only: never in storage, cookies or the URL, so closing the tab signs out.

/** An error answer of the API: its status, and Elasticsearch's error type and reason. */
export class ApiError extends Error {
  constructor (status, body) {
    const error = body && typeof body === 'object' ? body.error : undefined
    const reason = typeof error === 'string'
      ? error
      : (error && (error.reason || error.type)) || `the server answered ${status}`
    super(reason)
    this.status = status
    this.type = error && typeof error === 'object' ? error.type : undefined
    this.body = body
  }
}

/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000

/** A signed-in caller: an access token with its refresh token, or an encoded API key. */
export class Session {
  constructor () {
    this.accessToken = null
    this.refreshToken = null
    this.expiresAt = 0
    this.apiKey = null
    this.refreshing = null
  }

  get signedIn () {
    return Boolean(this.accessToken || this.apiKey)
  }

  /**
   * Signs in with a user's password through the password grant. The grant itself needs a
   * caller with `manage_token`: the user's own credentials authenticate it, once.
   */
  async signInWithPassword (username, password) {
    const basic = 'Basic ' + base64(`${username}:${password}`)
    const body = await send('POST', '/_security/oauth2/token', basic,
      { grant_type: 'password', username, password })
    this.keepTokens(body)
  }

  /** Signs in with an encoded API key (base64 of `id:api_key`), checked by the caller. */
  signInWithApiKey (encoded) {
    this.clear()
    this.apiKey = encoded.trim()
  }

  keepTokens (body) {
    this.apiKey = null
    this.accessToken = body.access_token
    this.refreshToken = body.refresh_token || null
    this.expiresAt = Date.now() + (Number(body.expires_in) || 1200) * 1000
  }

  authorization () {
    if (this.apiKey) return 'ApiKey ' + this.apiKey
    if (this.accessToken) return 'Bearer ' + this.accessToken
    return null
  }

  /**
   * Exchanges the refresh token for a new pair. keyward, like Elasticsearch, wants an
   * authenticated caller for the exchange: the current access token is that caller, so the
   * console refreshes shortly before the token expires, and once more after a 401.
   */
  async refresh () {
    if (!this.refreshToken) return false
    if (!this.refreshing) {
      const refreshToken = this.refreshToken
      this.refreshing = send('POST', '/_security/oauth2/token', this.authorization(),
        { grant_type: 'refresh_token', refresh_token: refreshToken })
        .then((body) => { this.keepTokens(body); return true })
        .catch(() => false)
        .finally(() => { this.refreshing = null })
    }
    return this.refreshing
  }

  /** Sends one API request as the signed-in caller; JSON in, JSON out, errors thrown. */
  async request (method, path, body) {
    if (this.accessToken && this.expiresAt - Date.now() < REFRESH_MARGIN_MS) {
      await this.refresh()
    }
    try {
      return await send(method, path, this.authorization(), body)
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && this.accessToken &&
          await this.refresh()) {
        return send(method, path, this.authorization(), body)
      }
      throw err
    }
  }

  /**
   * Signs out: an access token is invalidated on the server, which ends its refresh token
   * too (they are one pair). An API key stays valid: it is only forgotten here.
   */
  async signOut () {
    const authorization = this.authorization()
    const accessToken = this.accessToken
    this.clear()
    if (!accessToken) return
    await send('DELETE', '/_security/oauth2/token', authorization, { token: accessToken })
  }

  clear () {
    this.accessToken = null
    this.refreshToken = null
    this.expiresAt = 0
    this.apiKey = null
  }
}

/** One request with `authorization`; resolves to the parsed body of a 2xx answer. */
async function send (method, path, authorization, body) {
  const headers = { Accept: 'application/json' }
  if (authorization) headers.Authorization = authorization
  const init = { method, headers, credentials: 'omit', cache: 'no-store' }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  const response = await fetch(path, init)
  const text = await response.text()
  let parsed = null
  if (text) {
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      parsed = { error: { type: 'invalid_response', reason: text.slice(0, 200) } }
    }
  }
  if (!response.ok) throw new ApiError(response.status, parsed)
  return parsed
}

/** Base64 of a string's UTF-8 bytes. */
export function base64 (text) {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/** Path segment encoding for ids and names. */
export function segment (value) {
  return encodeURIComponent(value)
}
