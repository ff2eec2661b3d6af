/** The dashboard's calls: the node's /api/v1 on the page's own origin, with its session cookie. */
let csrf: string | undefined

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

/** Reads the session's CSRF value; ApiError 401 when there is no session (not logged in). */
export async function login (): Promise<void> {
  const s = await call<{ csrf: string }>('GET', '/ui/session')
  csrf = s.csrf
}

export async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {}
  // every request that changes state carries the value only this origin could read
  if (method !== 'GET' && method !== 'HEAD' && csrf !== undefined) headers['x-trove-csrf'] = csrf
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  const json = text === '' ? {} : JSON.parse(text)
  if (!res.ok) {
    const e = (json as { error?: { code?: string, message?: string } }).error
    throw new ApiError(res.status, e?.code ?? 'HTTP_' + String(res.status), e?.message ?? res.statusText)
  }
  return json as T
}

export const get = async <T>(path: string): Promise<T> => call<T>('GET', path)

/** A ref key in a URL path: each character that could be read as structure encoded. */
export function keyPath (key: string): string {
  return encodeURIComponent(key)
}

/** A query string from the defined values. */
export function qs (params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v))
  const t = p.toString()
  return t === '' ? '' : '?' + t
}
