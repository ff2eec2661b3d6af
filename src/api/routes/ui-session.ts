import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { UI_CSRF_HEADER, UI_LOGIN_CODE_TTL_MS, UI_SESSION_COOKIE, UI_SESSION_TTL_MS } from '../constants.js'
import { UnauthorizedError } from '../errors.js'

/** Login codes outstanding at once; older ones are dropped first (each `trove ui` makes one). */
const MAX_CODES = 64
/** Sessions kept at once; the oldest goes first (one per browser that logged in). */
const MAX_SESSIONS = 256

interface Session {
  csrf: string
  expiresAt: number
}

/**
 * The dashboard's logins: one-time, short-lived codes (made with the API token by `trove ui`)
 * exchanged for a session cookie, and per session the CSRF value the page must send with every
 * request that changes state. Held in memory: a restarted node asks for a new login.
 */
export class UiSessions {
  private readonly codes = new Map<string, number>()
  private readonly sessions = new Map<string, Session>()

  /** A new login code, usable once within UI_LOGIN_CODE_TTL_MS. */
  issueCode (now = Date.now()): { code: string, expiresAt: number } {
    this.prune(now)
    const code = randomBytes(32).toString('base64url')
    const expiresAt = now + UI_LOGIN_CODE_TTL_MS
    this.codes.set(hashOf(code), expiresAt)
    while (this.codes.size > MAX_CODES) this.codes.delete(this.codes.keys().next().value as string)
    return { code, expiresAt }
  }

  /** Spends a code: the new session's id and its cookie, or UnauthorizedError (unknown, used or expired). */
  exchange (code: string, now = Date.now()): { id: string, cookie: string } {
    const key = hashOf(code)
    const expiresAt = this.codes.get(key)
    this.codes.delete(key)
    if (expiresAt === undefined || expiresAt <= now) {
      throw new UnauthorizedError('this login link was already used or has expired: run "trove ui" for a new one')
    }
    const id = randomBytes(32).toString('base64url')
    this.sessions.set(id, { csrf: randomBytes(32).toString('base64url'), expiresAt: now + UI_SESSION_TTL_MS })
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string)
    const maxAge = Math.floor(UI_SESSION_TTL_MS / 1000)
    return { id, cookie: `${UI_SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}` }
  }

  /** The session a request's cookie names, if it is live. */
  session (cookieHeader: string | undefined, now = Date.now()): Session | undefined {
    const id = sessionIdOf(cookieHeader)
    if (id === undefined) return undefined
    const s = this.sessions.get(id)
    if (s === undefined) return undefined
    if (s.expiresAt <= now) {
      this.sessions.delete(id)
      return undefined
    }
    return s
  }

  /** Ends the session a cookie names. */
  logout (cookieHeader: string | undefined): void {
    const id = sessionIdOf(cookieHeader)
    if (id !== undefined) this.sessions.delete(id)
  }

  /**
   * Whether a request that changes state may go ahead on its session cookie: the cookie alone is
   * never enough, the CSRF header must carry the session's value. UnauthorizedError otherwise.
   */
  checkWrite (headers: Record<string, string | string[] | undefined>): void {
    const session = this.session(headerOf(headers.cookie))
    if (session === undefined) throw new UnauthorizedError('the dashboard session has expired or the node restarted: run "trove ui" for a new login link')
    const sent = headerOf(headers[UI_CSRF_HEADER]) ?? ''
    const a = createHash('sha256').update(sent).digest()
    const b = createHash('sha256').update(session.csrf).digest()
    if (!timingSafeEqual(a, b)) throw new UnauthorizedError(`a dashboard request that changes state needs the ${UI_CSRF_HEADER} header of its session`)
  }

  /** Whether a request carries a session cookie at all (it is then judged by the session, not the token). */
  hasCookie (headers: Record<string, string | string[] | undefined>): boolean {
    return sessionIdOf(headerOf(headers.cookie)) !== undefined
  }

  private prune (now: number): void {
    for (const [k, exp] of this.codes) if (exp <= now) this.codes.delete(k)
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k)
  }
}

/** Codes are kept hashed: a heap dump does not hand out logins. */
function hashOf (code: string): string {
  return createHash('sha256').update(code).digest('hex')
}

function headerOf (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}

function sessionIdOf (cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === UI_SESSION_COOKIE) return part.slice(eq + 1).trim()
  }
  return undefined
}
