import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startApiServer, type ApiServer } from '../../src/api/server.js'
import { NodeMetrics } from '../../src/metrics/metrics.js'
import { scrape, sample } from '../helpers/metrics.js'
import { connect, spawnNodes, stopNodes, type TestNode } from '../helpers/nodes.js'

describe('GET /metrics and GET /health of two real nodes', () => {
  let nodes: TestNode[]
  const servers: ApiServer[] = []
  const metrics: NodeMetrics[] = []

  before(async () => {
    // no grace period: the blob fetched a moment ago is unreferenced cache a gc may evict at once
    nodes = await spawnNodes(2, { topology: 'none', trove: { space: { gracePeriodMs: 0 } } })
    await connect(nodes[1], nodes[0])
    for (const n of nodes) {
      const m = new NodeMetrics({ source: n.trove })
      metrics.push(m)
      servers.push(await startApiServer({ ops: n.trove, node: n.trove, metrics: m }, { port: 0, token: 'test-token' }))
    }
  })
  after(async () => {
    for (const s of servers) await s.close()
    for (const m of metrics) m.close()
    await stopNodes(nodes)
  })

  it('answers /health without a token: up, mode, peers', async () => {
    const res = await fetch(`${servers[1].url}/health`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'up', mode: 'node', network: true, peers: 1 })
  })

  it('counters move with add, fetch between the nodes, a failed fetch and gc; gauges describe the store', async () => {
    const [a, b] = nodes
    const beforeA = await scrape(servers[0].url)
    const beforeB = await scrape(servers[1].url)
    for (const f of beforeB) assert.ok(f.name.startsWith('trove_'), `${f.name} has the trove_ prefix`)
    for (const f of beforeB.filter((f) => f.type === 'COUNTER')) assert.ok(f.name.endsWith('_total'), `counter ${f.name} ends in _total`)

    const content = randomBytes(3000)
    const added = await a.trove.addStream([content])
    const fetched = await b.trove.fetchBlob(added.uri)
    assert.equal(fetched.size, 3000)
    await assert.rejects(b.trove.fetchBlob('f'.repeat(40), { timeoutMs: 300 }), { code: 'NO_PROVIDERS' })
    const gc = await b.trove.gc()
    assert.equal(gc.evicted.blobs, 1)
    // one API request of each kind, counted by route template
    await fetch(`${servers[1].url}/api/v1/refs/no/such/ref`)

    const afterA = await scrape(servers[0].url)
    const afterB = await scrape(servers[1].url)
    const moved = (before: typeof afterA, after: typeof afterA, name: string, labels: Record<string, string> = {}): number =>
      sample(after, name, labels) - sample(before, name, labels)

    assert.equal(moved(beforeA, afterA, 'trove_blobs_added_total'), 1)
    assert.equal(moved(beforeA, afterA, 'trove_added_bytes_total'), 3000)
    assert.equal(moved(beforeA, afterA, 'trove_blobs_served_total'), 1)
    assert.equal(moved(beforeA, afterA, 'trove_served_bytes_total'), 3000)
    assert.equal(moved(beforeB, afterB, 'trove_blobs_fetched_total'), 1)
    assert.equal(moved(beforeB, afterB, 'trove_fetched_bytes_total'), 3000)
    assert.equal(moved(beforeB, afterB, 'trove_fetches_total', { outcome: 'ok' }), 1)
    assert.equal(moved(beforeB, afterB, 'trove_fetches_total', { outcome: 'NO_PROVIDERS' }), 1)
    assert.equal(moved(beforeB, afterB, 'trove_fetch_duration_seconds'), 2)
    assert.equal(moved(beforeB, afterB, 'trove_gc_runs_total', { trigger: 'manual' }), 1)
    assert.equal(moved(beforeB, afterB, 'trove_gc_run_duration_seconds'), 1)
    assert.equal(moved(beforeB, afterB, 'trove_blobs_evicted_total'), 1)
    assert.equal(moved(beforeB, afterB, 'trove_evicted_bytes_total'), 3000)
    assert.equal(moved(beforeB, afterB, 'trove_api_requests_total', { route: '/api/v1/refs/*', method: 'GET', status: '404' }), 1)
    // the scrapes before count as requests too, under their own route
    assert.ok(sample(afterB, 'trove_api_requests_total', { route: '/metrics' }) >= 1)

    assert.equal(sample(afterA, 'trove_peers'), 1)
    assert.equal(sample(afterA, 'trove_store_blobs', { class: 'unreferenced' }) + sample(afterA, 'trove_store_blobs', { class: 'pending' }), 1)
    assert.equal(sample(afterA, 'trove_store_bytes', { class: 'pinned' }), 0)
    assert.equal(sample(afterB, 'trove_usage_bytes', { part: 'blobs' }), 0)
    assert.equal(sample(afterB, 'trove_transfers_in_flight'), 0)
    assert.ok(sample(afterB, 'trove_pack_files') >= 1, 'the fetched small blob went into a pack file')
    assert.equal(sample(afterA, 'trove_refs'), 0)
  })

  it('peer faults and bans are counted', async () => {
    const beforeB = await scrape(servers[1].url)
    const scores = nodes[1].trove.network!.scores
    for (let i = 0; i < 20 && !scores.isBanned('12D3KooWfake'); i++) scores.fault('12D3KooWfake', 10, 'test: bad bytes')
    const afterB = await scrape(servers[1].url)
    assert.ok(sample(afterB, 'trove_peer_faults_total') - sample(beforeB, 'trove_peer_faults_total') >= 1)
    assert.equal(sample(afterB, 'trove_peer_bans_total') - sample(beforeB, 'trove_peer_bans_total'), 1)
  })
})
