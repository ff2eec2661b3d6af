import { createHash, timingSafeEqual } from 'node:crypto'
import net from 'node:net'
import { ForbiddenHostError, ForbiddenOriginError, UnauthorizedError } from './errors.js'

/** Host names that can only mean this machine (compared lower-case, port removed). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * The names a request's Host header may carry. Only names, never DNS names other than
 * `localhost`: a web page can make a browser send requests to 127.0.0.1 under a DNS name it
 * controls (DNS rebinding), and the Host header is what gives that away. When the API is bound to
 * a specific non-loopback IP (`--api 10.0.0.5:4738`), that literal is allowed too: an attacker's
 * page cannot make a browser send an IP literal it did not navigate to.
 */
export function allowedHosts (listenHost: string): Set<string> {
  const hosts = new Set(LOOPBACK_HOSTS)
  const h = listenHost.toLowerCase()
  const unspecified = h === '0.0.0.0' || h === '::' || h === '[::]'
  if (!unspecified && net.isIP(h) === 4) hosts.add(h)
  if (!unspecified && net.isIP(h) === 6) hosts.add(`[${h}]`)
  return hosts
}

/** Throws ForbiddenHostError unless the Host header is one of `allowed` (with any port). */
export function checkHost (hostHeader: string | undefined, allowed: Set<string>): void {
  if (hostHeader === undefined || hostHeader === '') throw new ForbiddenHostError('request has no Host header')
  const host = stripPort(hostHeader.trim().toLowerCase())
  if (!allowed.has(host)) {
    throw new ForbiddenHostError(`Host "${hostHeader.slice(0, 100)}" is not a loopback name (use localhost, 127.0.0.1 or [::1])`)
  }
}

function stripPort (host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    if (end < 0) return host
    const rest = host.slice(end + 1)
    return rest === '' || /^:\d+$/.test(rest) ? host.slice(0, end + 1) : host
  }
  const colon = host.lastIndexOf(':')
  if (colon >= 0 && /^\d+$/.test(host.slice(colon + 1))) return host.slice(0, colon)
  return host
}

/** Methods that only read; everything else changes state and needs the token. */
export const READ_METHODS = new Set(['GET', 'HEAD'])

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first so the
 * comparison takes the same time whatever the presented token's length.
 */
export function checkToken (authorization: string | undefined, token: string): void {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  if (m === null) throw new UnauthorizedError('this request changes state and needs "Authorization: Bearer <token>" (the token is in the data directory\'s api-token file)')
  const a = createHash('sha256').update(m[1]).digest()
  const b = createHash('sha256').update(token).digest()
  if (!timingSafeEqual(a, b)) throw new UnauthorizedError('wrong API token')
}

/**
 * Throws ForbiddenOriginError when a browser says the request comes from a page of another origin
 * (another site, or another port of this machine: a page on 127.0.0.1:8080 is same-site with the
 * API, so SameSite cookies alone would not stop it). Clients that are not browsers send no Origin
 * and are not affected. `port` is the API's own.
 */
export function checkOrigin (origin: string | undefined, allowed: Set<string>, port: number): void {
  if (origin === undefined) return
  let url: URL | undefined
  try {
    url = new URL(origin)
  } catch {}
  const own = url !== undefined && url.protocol === 'http:' && allowed.has(url.hostname.toLowerCase()) && Number(url.port || 80) === port
  if (!own) throw new ForbiddenOriginError(`requests from pages of origin "${origin.slice(0, 100)}" are refused: only the node's own dashboard may call its API from a browser`)
}
