import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { UI_LOGIN_CODE_TTL_MS, UI_SESSION_TTL_MS } from '../../src/api/constants.js'
import { allowedHosts, checkOrigin } from '../../src/api/guards.js'
import { UiSessions } from '../../src/api/routes/ui-session.js'

describe('dashboard sessions', () => {
  it('a login code works once, and not after its minute', () => {
    const s = new UiSessions()
    const now = 1_000_000
    const { code } = s.issueCode(now)
    const { id, cookie } = s.exchange(code, now + 10)
    assert.match(cookie, new RegExp(`^trove_session=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=\\d+$`))
    assert.throws(() => s.exchange(code, now + 20), { name: 'UnauthorizedError' })
    const late = s.issueCode(now)
    assert.throws(() => s.exchange(late.code, now + UI_LOGIN_CODE_TTL_MS), { name: 'UnauthorizedError' })
    assert.throws(() => s.exchange('made-up', now), { name: 'UnauthorizedError' })
  })

  it('a write on the cookie needs the session\'s CSRF value; sessions expire', () => {
    const s = new UiSessions()
    const now = Date.now()
    const { id } = s.exchange(s.issueCode(now).code, now)
    const cookie = `other=1; trove_session=${id}`
    const csrf = s.session(cookie, now)?.csrf as string
    assert.ok(csrf.length > 20)
    assert.equal(s.hasCookie({ cookie }), true)
    assert.throws(() => { s.checkWrite({ cookie }) }, { name: 'UnauthorizedError' })
    assert.throws(() => { s.checkWrite({ cookie, 'x-trove-csrf': csrf + 'x' }) }, { name: 'UnauthorizedError' })
    assert.throws(() => { s.checkWrite({ cookie: 'trove_session=forged', 'x-trove-csrf': csrf }) }, { name: 'UnauthorizedError' })
    s.checkWrite({ cookie, 'x-trove-csrf': csrf })
    assert.equal(s.session(cookie, now + UI_SESSION_TTL_MS), undefined)
    s.logout(cookie)
    assert.equal(s.session(cookie, now), undefined)
  })
})

describe('Origin check', () => {
  const hosts = allowedHosts('127.0.0.1')
  it('lets through requests without Origin (scripts) and from the API\'s own origin', () => {
    checkOrigin(undefined, hosts, 4738)
    for (const origin of ['http://127.0.0.1:4738', 'http://localhost:4738', 'http://[::1]:4738']) checkOrigin(origin, hosts, 4738)
    checkOrigin('http://localhost', hosts, 80)
  })
  it('refuses other origins, other ports of this machine, https and "null"', () => {
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8080', 'https://127.0.0.1:4738', 'null', 'http://localhost.evil.example:4738', 'garbage']) {
      assert.throws(() => { checkOrigin(origin, hosts, 4738) }, { name: 'ForbiddenOriginError' }, origin)
    }
  })
})
