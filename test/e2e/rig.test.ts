import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { NetnsHosts } from '../rig/hosts.js'
import { RIG_PATHS, runRig, type RigSummary } from '../rig/run.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * The multi-peer rig of docker-compose.yml, run as local processes of the built CLI: the compose
 * file's own scenario services (add on peer1, fetch on peer3, a late peer fetching through the
 * DHT) and the rig's scenarios (late join, a serving peer killed mid-transfer, eviction under a
 * small limit). Then a failing scenario's report, and the network-namespace variant where it can run.
 */

function byName (summary: RigSummary): Map<string, RigSummary['scenarios'][number]> {
  return new Map(summary.scenarios.map((s) => [s.name, s]))
}

/** Every failure's report, for the assertion message. */
function failures (summary: RigSummary): string {
  return summary.scenarios.filter((s) => s.status === 'failed')
    .map((s) => `${s.name}: ${s.detail}\n${s.error?.logTail ?? ''}`).join('\n\n') +
    summary.nodes.filter((n) => !n.ok).map((n) => `${n.service}: ${n.detail}`).join('\n')
}

test('rig: the compose topology runs locally and every scenario passes; nothing is left behind', async () => {
  const { dir, cleanup } = await tempDir('trove-rig-test-')
  try {
    const summary = await runRig({ parentDir: dir })
    assert.equal(summary.failed, 0, failures(summary))
    assert.equal(summary.mode, 'local')
    assert.equal(summary.nodes.length, 6)
    const s = byName(summary)
    for (const name of ['scenario-add', 'scenario-fetch', 'scenario-late', 'late-join-dht', 'kill-mid-transfer', 'evict-small']) {
      assert.equal(s.get(name)?.status, 'passed', `${name}: ${s.get(name)?.detail ?? 'did not run'}`)
    }
    // the run's directory (data, logs) is gone, and with it every process that used it
    assert.deepEqual(await fs.readdir(dir), [])
  } finally {
    await cleanup()
  }
})

const FAILING = `
services:
  bootstrap:
    command: [start, --listen, /ip4/0.0.0.0/tcp/4737, --no-mdns]
    environment: { TROVE_DATA: /data, TROVE_RIG_DIR: /rig, TROVE_RIG_PUBLISH: /rig/bootstrap.json }
    volumes: [b:/data, rig:/rig]
    x-trove: { role: bootstrap }
  peer1:
    command: [start, --listen, /ip4/0.0.0.0/tcp/4737, --no-mdns, --bootstrap, "rig:bootstrap"]
    environment: { TROVE_DATA: /data, TROVE_RIG_DIR: /rig }
    volumes: [p1:/data, rig:/rig:ro]
    depends_on: { bootstrap: { condition: service_healthy } }
    x-trove: { role: peer }
  bad-step:
    entrypoint: [sh, -c]
    command: ['trove cat not-a-uri']
    network_mode: service:peer1
    environment: { TROVE_DATA: /data }
    volumes: [p1:/data]
    depends_on: { peer1: { condition: service_healthy } }
    x-trove: { role: scenario }
  after-bad:
    entrypoint: [sh, -c]
    command: ['trove status']
    network_mode: service:peer1
    environment: { TROVE_DATA: /data }
    volumes: [p1:/data]
    depends_on: { bad-step: { condition: service_completed_successfully }, peer1: { condition: service_started } }
    x-trove: { role: scenario }
volumes: { b: , p1: , rig: }
`

test('rig: a failing scenario names its peer and step with the peer\'s log tail; what depends on it does not run', async () => {
  const { dir, cleanup } = await tempDir('trove-rig-fail-')
  try {
    const compose = path.join(dir, 'compose.yml')
    await fs.writeFile(compose, FAILING)
    const summary = await runRig({ compose, scenarios: [], parentDir: dir })
    const s = byName(summary)
    const bad = s.get('bad-step')
    assert.equal(bad?.status, 'failed')
    assert.equal(bad?.error?.name, 'ScenarioError')
    assert.equal(bad?.error?.code, 'RIG_SCENARIO_FAILED')
    assert.equal(bad?.error?.peer, 'peer1')
    assert.ok(bad?.error?.step.startsWith('bad-step'))
    const peerId = summary.nodes.find((n) => n.service === 'peer1')?.peerId
    assert.ok(peerId !== undefined && bad?.error?.logTail.includes(peerId) === true, 'the tail of peer1\'s log (its start line) is in the report')
    const after = s.get('after-bad')
    assert.equal(after?.status, 'failed')
    assert.equal(after?.error?.step, 'depends_on bad-step')
    assert.equal(summary.failed, 2)
    assert.ok(summary.nodes.every((n) => n.ok))
  } finally {
    await cleanup()
  }
})

test('rig --netns: each node in its own network namespace and address', async (t) => {
  try {
    await NetnsHosts.check()
  } catch (err) {
    t.skip(`network namespaces unavailable here: ${(err as Error).message}`)
    return
  }
  const { dir, cleanup } = await tempDir('trove-rig-netns-')
  try {
    // the compose scenarios and the DHT join; the local run above covers kill and eviction
    const summary = await runRig({ netns: true, scenarios: ['late-join-dht'], parentDir: dir, compose: RIG_PATHS.compose })
    assert.equal(summary.failed, 0, failures(summary))
    assert.equal(summary.mode, 'netns')
    const addresses = summary.nodes.map((n) => n.address)
    assert.equal(new Set(addresses).size, summary.nodes.length, `distinct addresses: ${addresses.join(' ')}`)
    assert.ok(addresses.every((a) => a !== undefined && !a.startsWith('127.')))
    for (const name of ['scenario-add', 'scenario-fetch', 'scenario-late', 'late-join-dht']) {
      assert.equal(byName(summary).get(name)?.status, 'passed', name)
    }
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
    assert.ok(!left.includes(`trove-rig-${process.pid}-`), `namespaces left behind: ${left}`)
  } finally {
    await cleanup()
  }
})
