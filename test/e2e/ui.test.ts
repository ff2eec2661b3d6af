import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { cliSandbox, type CliSandbox, type JsonError } from '../helpers/cli.js'
import { startDaemon, stopDaemon, type Daemon } from '../helpers/daemon.js'

describe('trove ui and trove start with the built CLI', () => {
  let t: CliSandbox
  let node: Daemon | undefined

  before(async () => { t = await cliSandbox() })
  after(async () => {
    await stopDaemon(node)
    await t.cleanup()
  })

  it('without a running node, trove ui fails with NODE_NOT_RUNNING', async () => {
    const res = await t.runJson<JsonError>(['ui'])
    assert.notEqual(res.code, 0)
    assert.equal(res.json.error.code, 'NODE_NOT_RUNNING')
  })

  it('trove start names the dashboard; trove ui prints a one-time login link that sets the session cookie', async () => {
    node = await startDaemon(t)
    assert.equal((node.started as { dashboardUrl?: string }).dashboardUrl, `${node.started.apiUrl}/`)
    const human = await t.run(['ui'])
    assert.equal(human.code, 0, human.stderr)
    const url = human.stdout.trim()
    assert.ok(url.startsWith(`${node.started.apiUrl}/ui/login?code=`), url)
    assert.match(human.stderr, /works once/)

    const login = await fetch(url, { redirect: 'manual' })
    assert.equal(login.status, 303)
    assert.equal(login.headers.get('location'), '/')
    const cookie = login.headers.get('set-cookie') ?? ''
    assert.match(cookie, /^trove_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\//)
    const session = await fetch(`${node.started.apiUrl}/api/v1/ui/session`, { headers: { cookie: cookie.split(';')[0] } })
    assert.equal(session.status, 200)
    assert.equal((await fetch(url, { redirect: 'manual' })).status, 401, 'the code works once')

    // --open without a desktop session only prints, and says so
    const json = await t.runJson<{ url: string, opened: boolean }>(['ui', '--open'], { env: { DISPLAY: undefined, WAYLAND_DISPLAY: undefined } })
    assert.equal(json.code, 0)
    assert.equal(json.json.opened, false)
    const page = await fetch(`${node.started.apiUrl}/`)
    assert.equal(page.status, 200)
    assert.match(await page.text(), /<script src="\/ui\/app.js"/)
    assert.equal((await fetch(`${node.started.apiUrl}/health`)).status, 200)
  })
})
