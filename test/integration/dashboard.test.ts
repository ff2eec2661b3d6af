import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { startApiServer, type ApiServer } from '../../src/api/server.js'
import { NodeMetrics } from '../../src/metrics/metrics.js'
import type { AddResult } from '../../src/ops.js'
import { launchBrowser } from '../helpers/browser.js'
import { spawnNodes, stopNodes, waitFor, type TestNode } from '../helpers/nodes.js'

const TOKEN = 'dashboard-test-token'
const SHOTS = new URL('../../../docs/img/', import.meta.url)
/** Each page action waits at most this long for what it expects to show. */
const UI_WAIT_MS = 20_000

describe('the web dashboard in a real headless chromium', () => {
  let nodes: TestNode[]
  let server: ApiServer
  let metrics: NodeMetrics
  let browser: Browser
  let context: BrowserContext
  let page: Page
  const blobs: AddResult[] = []

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const json = await res.json() as T
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  const loginUrl = async (): Promise<string> => (await api<{ url: string }>('POST', '/ui/login-links')).url
  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: new URL(`dashboard-${name}.png`, SHOTS).pathname, fullPage: true })
  }

  before(async () => {
    // the browser first: without chromium the file fails at once with one line
    browser = await launchBrowser()
    await fs.mkdir(SHOTS, { recursive: true })
    // no size limit: a GC run evicts every unheld blob (past a grace period of 0), so what the
    // preview lists does not depend on how big the database happens to be
    nodes = await spawnNodes(2, { topology: 'star', trove: { space: { gracePeriodMs: 0 } } })
    const [peer, node] = nodes
    await waitFor(async () => (await node.trove.peers()).length === 1, 10_000, 'the two nodes to connect')
    metrics = new NodeMetrics({ source: node.trove })
    server = await startApiServer({ ops: node.trove, node: node.trove, metrics, ui: node.trove }, { port: 0, token: TOKEN })

    const t = node.trove
    // a run for the chart of GC runs: it evicts a blob nothing holds
    await t.addStream([randomBytes(50_000)])
    await t.gc()
    for (let i = 0; i < 6; i++) blobs.push(await t.addStream([randomBytes(20_000 + i * 1000)], { name: `part${i}.bin` }))
    await t.setRef('lab/mouse7/run1', { raw: blobs[0].uri, spikes: blobs[1].uri }, { priority: 1, project: 'spikes' })
    await t.setRef('lab/mouse7/run2', { raw: blobs[2].uri }, { project: 'spikes' })
    await t.mergeRef('lab/mouse7/run2', { sorted: blobs[3].uri })
    await t.setRef('lab/mouse8/run1', { raw: blobs[4].uri }, { project: 'other' })
    await t.setRef('notes', { text: 'no blobs here' })
    await t.setRef('scratch/old', { text: 'to be deleted from the page' })
    // blobs[5] is held by nothing; one more comes from the peer: cache a GC may evict
    const remote = await peer.trove.addStream([randomBytes(30_000)])
    await t.fetchBlob(remote.uri)
    // a fetch no peer can serve, for the failures the peers page explains
    await assert.rejects(t.fetchBlob('e'.repeat(40), { timeoutMs: 300 }), { code: 'NO_PROVIDERS' })

    context = await browser.newContext({ viewport: { width: 1100, height: 800 } })
    page = await context.newPage()
    page.on('dialog', (d) => { void (d.type() === 'prompt' ? d.accept('5') : d.accept()) })
  })

  after(async () => {
    await browser?.close()
    await server?.close()
    metrics?.close()
    if (nodes !== undefined) await stopNodes(nodes)
  })

  it('logs in through the one-time link and shows storage as the API reports it', async () => {
    await page.goto(await loginUrl())
    assert.equal(new URL(page.url()).pathname, '/')
    const cookies = await context.cookies(server.url)
    const session = cookies.find((c) => c.name === 'trove_session')
    assert.ok(session !== undefined)
    assert.equal(session.httpOnly, true)
    assert.equal(session.sameSite, 'Strict')
    assert.equal(session.path, '/')

    await page.waitForSelector('#classes', { timeout: UI_WAIT_MS })
    const status = await api<{ space: { classes: Record<string, { blobs: number }>, lastRuns: unknown[] } }>('GET', '/status')
    for (const c of ['pinned', 'referenced', 'unreferenced']) {
      const cell = await page.textContent(`#classes tr[data-class="${c}"] td:nth-child(2)`)
      assert.equal(Number(cell), status.space.classes[c].blobs, `${c} blobs`)
    }
    assert.ok(await page.isVisible('#run-chart'), 'the chart of GC runs')
    assert.equal(await page.locator('#runs tbody tr').count(), Math.min(20, status.space.lastRuns.length))
    await shot('storage')
  })

  it('browses the key hierarchy as groups with counts, and opens a ref with its blobs and versions', async () => {
    await page.click('nav a[data-page="refs"]')
    await page.waitForSelector('#groups', { timeout: UI_WAIT_MS })
    const lab = page.locator('#groups tr', { hasText: 'lab/' })
    const labRefs = (await api<{ refs: unknown[] }>('GET', '/refs?prefix=lab/')).refs.length
    assert.equal(Number(await lab.locator('td').nth(1).textContent()), labRefs)
    assert.equal(await page.locator('#refs a.ref', { hasText: 'notes' }).count(), 1)
    await shot('refs')

    await lab.locator('a').click()
    await page.waitForSelector('#groups a.group >> text=mouse7/', { timeout: UI_WAIT_MS })
    await page.click('#groups a.group >> text=mouse7/')
    await page.waitForSelector('#refs a.ref >> text=run2', { timeout: UI_WAIT_MS })
    assert.equal(await page.locator('#refs a.ref').count(), 2)
    await page.click('#refs a.ref >> text=run2')
    await page.waitForSelector('#ref-blobs table', { timeout: UI_WAIT_MS })

    const ref = await api<{ obj: unknown }>('GET', '/refs/lab%2Fmouse7%2Frun2')
    assert.deepEqual(JSON.parse(await page.textContent('#obj') ?? ''), ref.obj)
    assert.equal(await page.locator('#ref-blobs tbody tr').count(), 2)
    const versions = await page.locator('#versions li').allTextContents()
    assert.equal(versions.length, 2)
    assert.match(versions[0], /\+sorted/, 'the newest version says what it added')
  })

  it('pins a blob from the ref page and the API sees the pin', async () => {
    const row = page.locator(`#ref-blobs tr[data-sha1="${blobs[2].sha1}"]`)
    await row.locator('button.pin').click()
    await page.waitForSelector(`#ref-blobs tr[data-sha1="${blobs[2].sha1}"] button.unpin`, { timeout: UI_WAIT_MS })
    const pins = await api<{ pins: Array<{ sha1: string }> }>('GET', '/pins')
    assert.deepEqual(pins.pins.map((p) => p.sha1), [blobs[2].sha1])
    await shot('ref')
  })

  it('changes a ref\'s priority with a confirmation', async () => {
    await page.click('#priority')
    await page.waitForSelector('#priority >> text=Priority 5', { timeout: UI_WAIT_MS })
    const ref = await api<{ meta: { priority?: number } }>('GET', '/refs/lab%2Fmouse7%2Frun2')
    assert.equal(ref.meta.priority, 5)
  })

  it('deletes a ref with a confirmation and goes back to its group', async () => {
    await page.goto(`${server.url}/#/ref?key=scratch%2Fold`)
    await page.waitForSelector('#delete-ref', { timeout: UI_WAIT_MS })
    await page.click('#delete-ref')
    await page.waitForSelector('#ref-search', { timeout: UI_WAIT_MS })
    assert.match(page.url(), /#\/refs\?prefix=scratch%2F$/)
    const res = await fetch(`${server.url}/api/v1/refs/scratch%2Fold`)
    assert.equal(res.status, 404)
  })

  it('looks up a blob: size, why it is kept, download link', async () => {
    await page.goto(`${server.url}/#/ref?key=lab%2Fmouse7%2Frun2`)
    await page.waitForSelector(`#ref-blobs tr[data-sha1="${blobs[2].sha1}"] a`, { timeout: UI_WAIT_MS })
    await page.click(`#ref-blobs tr[data-sha1="${blobs[2].sha1}"] a`)
    await page.waitForSelector('#blob-facts', { timeout: UI_WAIT_MS })
    const facts = await page.textContent('#blob-facts') ?? ''
    assert.match(facts, /yes, pinned/)
    const why = await api<{ reasons: Array<{ kind: string, key?: string }> }>('GET', `/why/${blobs[2].sha1}`)
    assert.equal(await page.locator('#reasons li').count(), why.reasons.length)
    const href = await page.getAttribute('#download', 'href')
    const download = await page.evaluate(async (u) => (await fetch(u as string)).arrayBuffer().then((b) => b.byteLength), href)
    assert.equal(download, blobs[2].size)
    await shot('blob')
  })

  it('previews GC as a table in eviction order, then runs it and shows the report', async () => {
    // unheld cache to evict: blobs[5] (never referenced) and a ref's blobs once it is gone
    await api('DELETE', '/refs/lab%2Fmouse8%2Frun1')
    await page.click('nav a[data-page="gc"]')
    await page.click('#gc-preview')
    await page.waitForSelector('#gc-table', { timeout: UI_WAIT_MS })
    const plan = await api<{ blobs: Array<{ sha1: string }> }>('POST', '/gc', { dryRun: true })
    const shown = await page.locator('#gc-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-sha1')))
    assert.deepEqual(shown, plan.blobs.map((b) => b.sha1))
    assert.ok(shown.includes(blobs[5].sha1))
    await shot('gc')

    await page.click('#gc-run')
    await page.waitForSelector('.report[data-dry-run="false"]', { timeout: UI_WAIT_MS })
    const status = await api<{ space: { lastRuns: Array<{ evictedBlobs: number }> } }>('GET', '/status')
    const summary = await page.textContent('#gc-summary') ?? ''
    assert.match(summary, new RegExp(`^${status.space.lastRuns[0].evictedBlobs} blob`))
    assert.equal((await api<{ local: boolean }>('GET', `/blobs/${blobs[5].sha1}/info`)).local, false)
  })

  it('shows peers and transfers, live', async () => {
    await page.click('nav a[data-page="peers"]')
    await page.waitForSelector('#peers', { timeout: UI_WAIT_MS })
    const peers = await api<{ peers: Array<{ peerId: string }> }>('GET', '/peers')
    assert.equal(await page.locator('#peers tbody tr').count(), peers.peers.length)
    assert.ok(await page.isVisible('#no-transfers'))
    const failure = page.locator('#failures tbody tr', { hasText: 'sha1://eeeeeeeeeeee' })
    assert.match(await failure.textContent() ?? '', /no peer has it/)
    await shot('peers')
  })

  it('a page of another origin can neither read nor change anything, even with the session cookie', async () => {
    // a page on another port of the same machine is same-site: the browser sends the cookie
    const evil = http.createServer((_req, res) => { res.end('<!doctype html><title>elsewhere</title>') })
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    try {
      const evilPage = await context.newPage()
      await evilPage.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`)
      const results = await evilPage.evaluate(async ({ base, sha1 }) => {
        const attempt = async (url: string, init: RequestInit): Promise<string> => {
          try {
            const res = await fetch(url, { credentials: 'include', ...init })
            return res.type === 'opaque' ? 'opaque' : `read ${res.status}: ${await res.text()}`
          } catch {
            return 'blocked'
          }
        }
        return {
          session: await attempt(`${base}/api/v1/ui/session`, {}),
          status: await attempt(`${base}/api/v1/status`, {}),
          // a "simple" request: no preflight, the cookie goes along, the answer is opaque
          pin: await attempt(`${base}/api/v1/pins/${sha1}`, { method: 'POST', mode: 'no-cors', body: 'x' }),
          gc: await attempt(`${base}/api/v1/gc`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}' }),
          rm: await attempt(`${base}/api/v1/refs/notes`, { method: 'DELETE' }),
          put: await attempt(`${base}/api/v1/pins/${sha1}`, { method: 'PUT', headers: { 'x-trove-csrf': 'guess' } })
        }
      }, { base: server.url, sha1: blobs[0].sha1 })
      assert.equal(results.session, 'blocked')
      assert.equal(results.status, 'blocked')
      assert.equal(results.rm, 'blocked')
      assert.equal(results.put, 'blocked')
      assert.equal(results.pin, 'opaque')
      assert.equal(results.gc, 'opaque')
      await evilPage.close()
    } finally {
      await new Promise((resolve) => evil.close(resolve))
    }
    // nothing changed: still one pin, the ref is there, no GC run since the page's own
    const pins = await api<{ pins: Array<{ sha1: string }> }>('GET', '/pins')
    assert.deepEqual(pins.pins.map((p) => p.sha1), [blobs[2].sha1])
    await api('GET', '/refs/notes')
    const requests = await (await fetch(`${server.url}/metrics`)).text()
    assert.match(requests, /trove_api_requests_total\{method="POST",route="\/api\/v1\/gc",status="403"\} 1/)
  })

  it('the cookie alone is never enough for a write: the CSRF header of the session is', async () => {
    const cookie = (await context.cookies(server.url)).map((c) => `${c.name}=${c.value}`).join('; ')
    const bare = await fetch(`${server.url}/api/v1/pins/${blobs[0].sha1}`, { method: 'PUT', headers: { cookie } })
    assert.equal(bare.status, 401)
    assert.equal((await bare.json() as { error: { code: string } }).error.code, 'UNAUTHORIZED')
    const { csrf } = await (await fetch(`${server.url}/api/v1/ui/session`, { headers: { cookie } })).json() as { csrf: string }
    const wrong = await fetch(`${server.url}/api/v1/pins/${blobs[0].sha1}`, { method: 'PUT', headers: { cookie, 'x-trove-csrf': csrf.slice(1) } })
    assert.equal(wrong.status, 401)
    const right = await fetch(`${server.url}/api/v1/pins/${blobs[0].sha1}`, { method: 'PUT', headers: { cookie, 'x-trove-csrf': csrf } })
    assert.equal(right.status, 200)
    await api('DELETE', `/pins/${blobs[0].sha1}`)
  })

  it('a login code works once', async () => {
    const url = await loginUrl()
    const first = await browser.newContext()
    const second = await browser.newContext()
    try {
      const ok = await (await first.newPage()).goto(url)
      assert.equal(ok?.status(), 200)
      const again = await (await second.newPage()).goto(url)
      assert.equal(again?.status(), 401)
      assert.deepEqual(await second.cookies(server.url), [])
      const forged = await (await second.newPage()).goto(`${server.url}/ui/login?code=made-up`)
      assert.equal(forged?.status(), 401)
    } finally {
      await first.close()
      await second.close()
    }
  })
})
