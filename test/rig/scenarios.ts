import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { formatSize, parseSize } from '../../src/units.js'
import type { NodeService } from './compose-map.js'
import { ScenarioError } from './errors.js'
import type { Rig, StepResult } from './rig.js'

/**
 * The rig's scenarios beyond the compose file's own scenario services. They pick their peers by
 * what the compose file says about them (roles, size limits, who joins late), not by name.
 */

export interface ScenarioResult {
  name: string
  status: 'passed' | 'failed' | 'skipped'
  ms: number
  /** What happened (passed), why it was skipped, or the failure's message. */
  detail: string
  error?: ScenarioError
}

export interface Scenario {
  name: string
  description: string
  run: (rig: Rig) => Promise<string | Skip>
}

/** A scenario that cannot run here says why, instead of passing without testing anything. */
export class Skip {
  constructor (readonly reason: string) {}
}

/** File the compose file's scenario-add step leaves its URI in (in the volume TROVE_RIG_DIR names). */
const SAMPLE_URI_FILE = 'sample.uri'
/** First size tried for the kill scenario: several 4 MiB chunks, so more than one peer serves. */
const KILL_FILE_BYTES = 32 * 1024 * 1024
/** A transfer over before the kill landed is retried with a file this many times larger. */
const KILL_GROWTH = 2
const KILL_ATTEMPTS = 3
/** How long the watcher waits for the transfer to appear and finish. */
const KILL_WATCH_MS = 120_000
/** Files fetched by the small peer, each this size; together 1.5 times its limit. */
const EVICT_FILE_BYTES = 6 * 1024 * 1024
const EVICT_OVERFILL = 1.5
/** Pinned on the small peer first: eviction must never take it. */
const EVICT_PINNED_BYTES = 2 * 1024 * 1024

const WATCHER = fileURLToPath(new URL('./watch-transfer.js', import.meta.url))

interface Peers {
  bootstrap: string
  /** Peers that start with the topology and have the default (largest) limits. */
  regular: string[]
  /** The peer with the smallest --max-size, if one is smaller than the others. */
  small?: string
  /** Peers that start only after a scenario completed. */
  late: string[]
}

export function peersOf (rig: Rig): Peers {
  const nodes = [...rig.plan.services.values()].filter((s): s is NodeService => s.kind === 'node')
  const bootstrap = (nodes.find((s) => s.role === 'bootstrap') as NodeService).name
  const late = nodes.filter((s) => s.dependsOn.some((d) => d.condition === 'service_completed_successfully')).map((s) => s.name)
  const peers = nodes.filter((s) => s.role === 'peer' && !late.includes(s.name))
  const limit = (s: NodeService): number => s.maxSize !== undefined ? parseSize(s.maxSize) : Number.POSITIVE_INFINITY
  const smallest = Math.min(...peers.map(limit))
  const small = peers.filter((s) => limit(s) === smallest)
  const largest = Math.max(...peers.map(limit))
  const result: Peers = { bootstrap, late, regular: peers.filter((s) => limit(s) === largest).map((s) => s.name) }
  if (smallest < largest && small.length > 0) result.small = small[0].name
  return result
}

/** The compose file's scenario services, as scenario results. */
export function composeResults (steps: StepResult[]): ScenarioResult[] {
  return steps.map((s) => ({
    name: s.service,
    status: s.ok ? 'passed' : 'failed',
    ms: s.ms,
    detail: s.detail,
    ...(s.error !== undefined ? { error: s.error } : {})
  }))
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'late-join-dht',
    description: 'a peer joining late, knowing only the bootstrap peer (which lacks the content), found it through the DHT',
    run: lateJoin
  },
  {
    name: 'kill-mid-transfer',
    description: 'a serving peer is killed mid-transfer; the fetch completes from the other holder; the killed peer restarts intact',
    run: killMidTransfer
  },
  {
    name: 'evict-small',
    description: 'a peer under a small size limit evicts cache to take more, never its pinned content',
    run: evictSmall
  }
]

export async function runScenario (rig: Rig, scenario: Scenario): Promise<ScenarioResult> {
  const t0 = Date.now()
  try {
    const out = await scenario.run(rig)
    const ms = Date.now() - t0
    return out instanceof Skip ? { name: scenario.name, status: 'skipped', ms, detail: out.reason } : { name: scenario.name, status: 'passed', ms, detail: out }
  } catch (err) {
    const error = err instanceof ScenarioError
      ? err
      : new ScenarioError({ scenario: scenario.name, peer: '-', step: 'scenario', reason: (err as Error).stack ?? String(err), logTail: '' })
    return { name: scenario.name, status: 'failed', ms: Date.now() - t0, detail: error.message, error }
  }
}

async function lateJoin (rig: Rig): Promise<string | Skip> {
  const name = 'late-join-dht'
  const { bootstrap, late } = peersOf(rig)
  if (late.length === 0) return new Skip('the compose file has no peer that starts after a scenario (depends_on ... service_completed_successfully)')
  const peer = late[0]
  const uri = await sampleUri(rig, name)
  const service = rig.plan.services.get(peer) as NodeService
  if (service.bootstrapFrom.join(',') !== bootstrap) throw rig.failure(name, peer, 'premise', `bootstraps from ${service.bootstrapFrom.join(', ')}, not only from ${bootstrap}`)
  const atBootstrap = await rig.cliJson<{ local: boolean }>(name, bootstrap, 'why on bootstrap', ['why', uri])
  if (atBootstrap.local) throw rig.failure(name, bootstrap, 'premise', `${bootstrap} holds ${uri}, so a late peer could have got it without the DHT`)
  // the compose scenario fetched it already; here: it is in the late peer's store and intact
  const why = await rig.cliJson<{ local: boolean, size?: number }>(name, peer, 'why on the late peer', ['why', uri])
  if (!why.local) throw rig.failure(name, peer, 'content present', `${uri} is not in ${peer}'s store after the fetch`)
  const status = await rig.cliJson<{ network?: { peers?: number, dht?: boolean } }>(name, peer, 'status', ['status'])
  if (status.network?.dht !== true) throw rig.failure(name, peer, 'status', 'DHT is off')
  return `${peer} holds ${uri} (${formatSize(why.size ?? 0)}) via the DHT; ${bootstrap} does not; ${status.network.peers ?? 0} peer(s) connected now`
}

async function killMidTransfer (rig: Rig): Promise<string | Skip> {
  const name = 'kill-mid-transfer'
  const { regular } = peersOf(rig)
  if (regular.length < 3) return new Skip(`needs three peers with the same limits, the compose file has ${regular.length}`)
  const [a, b, fetcher] = regular
  let bytes = KILL_FILE_BYTES
  const tries: string[] = []
  for (let attempt = 1; attempt <= KILL_ATTEMPTS; attempt++, bytes *= KILL_GROWTH) {
    const file = rig.file(`kill-${attempt}.bin`)
    const sha1 = await randomFile(file, bytes)
    const uri = `sha1://${sha1}`
    // both hold the same bytes, so either can finish the transfer when the other dies
    for (const holder of [a, b]) await rig.cliJson(name, holder, `add on ${holder}`, ['add', file])
    await fs.rm(file)
    const peerIds = new Map([a, b].map((n) => [rig.nodes.get(n)?.start.peerId as string, n]))
    const node = rig.nodes.get(fetcher)
    if (node === undefined) throw rig.failure(name, fetcher, 'premise', 'not running')

    const argv = node.host.wrap([process.execPath, WATCHER, node.dataDir, sha1, String(KILL_WATCH_MS)])
    const watcher = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
    const watched = new Promise<void>((resolve) => watcher.once('close', () => resolve()))
    const out = rig.file(`kill-${attempt}.out`)
    let killed: { peer: string, bytes: number, size: number } | undefined
    const watching = (async () => {
      for await (const line of createInterface({ input: watcher.stdout })) {
        const t = JSON.parse(line) as { bytes: number, size?: number, state: string, peers: string[] }
        if (killed !== undefined || t.state !== 'fetching' || t.bytes === 0 || t.size === undefined || t.bytes >= t.size) continue
        // a peer that is serving this transfer right now
        const victim = t.peers.map((p) => peerIds.get(p)).find((n) => n !== undefined)
        if (victim === undefined) continue
        killed = { peer: victim, bytes: t.bytes, size: t.size }
        await rig.kill(victim, 'SIGKILL')
      }
    })()
    const get = rig.cli(fetcher, ['--json', 'get', uri, '-o', out]).finally(() => {
      // the transfer is over either way; the watcher has nothing left to see
      if (watcher.exitCode === null) watcher.kill('SIGTERM')
    })
    await Promise.all([watching, watched])
    const res = await get
    if (res.code !== 0) {
      throw rig.failure(name, fetcher, `get after killing ${killed?.peer ?? 'nobody'}`, `trove get failed (exit ${String(res.code)}): ${res.stdout.trim() || res.stderr.trim()}`)
    }
    const got = await sha1File(out)
    await fs.rm(out, { force: true })
    if (got !== sha1) throw rig.failure(name, fetcher, 'compare', `fetched bytes hash to ${got}, not ${sha1}`)
    if (killed === undefined) {
      tries.push(`${formatSize(bytes)} finished before a serving peer could be killed`)
      continue
    }
    // the killed peer comes back with the same identity and an intact store
    const before = peerIds.size > 0 ? [...peerIds].find(([, n]) => n === killed?.peer)?.[0] : undefined
    const back = await rig.restart(killed.peer)
    if (back.start.peerId !== before) throw rig.failure(name, killed.peer, 'restart', `came back as ${back.start.peerId}, was ${String(before)}`)
    const verify = await rig.cliJson<{ ok: boolean, corrupt: unknown[], missing: unknown[] }>(name, killed.peer, 'verify after SIGKILL', ['verify'])
    if (!verify.ok) throw rig.failure(name, killed.peer, 'verify after SIGKILL', `store not intact: ${JSON.stringify(verify).slice(0, 300)}`)
    const still = await rig.cliJson<{ local: boolean }>(name, killed.peer, 'content after restart', ['why', uri])
    if (!still.local) throw rig.failure(name, killed.peer, 'content after restart', `${uri} is gone after the restart`)
    return `killed ${killed.peer} (SIGKILL) at ${formatSize(killed.bytes)} of ${formatSize(killed.size)}; ${fetcher} completed from the other holder with identical bytes; ${killed.peer} restarted with the same peer id and a clean verify` +
      (tries.length > 0 ? ` (after: ${tries.join('; ')})` : '')
  }
  throw rig.failure(name, fetcher, 'kill', `every transfer finished before a serving peer could be killed: ${tries.join('; ')}`)
}

async function evictSmall (rig: Rig): Promise<string | Skip> {
  const name = 'evict-small'
  const { small, regular } = peersOf(rig)
  if (small === undefined) return new Skip('the compose file has no peer with a smaller --max-size than the others')
  const source = regular[0]
  const first = await rig.cliJson<{ space?: SpaceStatus }>(name, small, 'status', ['status'])
  if (first.space === undefined) return new Skip('space management is not in place: `trove status --json` has no space report (limits, usage)')
  const limit = first.space.limits.hardLimit ?? first.space.limits.maxSize
  if (limit === undefined) throw rig.failure(name, small, 'status', `no size limit in force although the compose file gives --max-size ${String((rig.plan.services.get(small) as NodeService).maxSize)}`)

  const pinnedFile = rig.file('evict-pinned.bin')
  const pinned = `sha1://${await randomFile(pinnedFile, EVICT_PINNED_BYTES)}`
  await rig.cliJson(name, small, 'add --pin', ['add', '--pin', pinnedFile])
  const count = Math.ceil(EVICT_OVERFILL * limit / EVICT_FILE_BYTES)
  const uris: string[] = []
  const files: string[] = []
  for (let i = 0; i < count; i++) {
    files.push(rig.file(`evict-${i}.bin`))
    uris.push(`sha1://${await randomFile(files[i], EVICT_FILE_BYTES)}`)
  }
  await rig.cliJson(name, source, `add ${count} files on ${source}`, ['add', ...files])
  for (const f of files) await fs.rm(f)
  // one scratch file for every fetch: each get replaces the last one's (get -o refuses that without --force)
  const out = rig.file('evict.out')
  for (const [i, uri] of uris.entries()) {
    await rig.cliJson(name, small, `get ${i + 1}/${count} (${formatSize((i + 1) * EVICT_FILE_BYTES)} fetched into ${formatSize(limit)})`, ['get', uri, '-o', out, '--force'])
    const status = await rig.cliJson<{ space: SpaceStatus }>(name, small, `status after get ${i + 1}`, ['status'])
    if (status.space.usage.total > limit) {
      throw rig.failure(name, small, `get ${i + 1}/${count}`, `usage ${formatSize(status.space.usage.total)} is over the limit ${formatSize(limit)}`)
    }
  }
  await fs.rm(out, { force: true })
  const status = await rig.cliJson<{ space: SpaceStatus }>(name, small, 'status at the end', ['status'])
  const evicted = status.space.metrics.evictedBlobs
  if (evicted === 0) throw rig.failure(name, small, 'eviction', `fetched ${formatSize(count * EVICT_FILE_BYTES)} into ${formatSize(limit)} and evicted nothing`)
  const keptPin = await rig.cliJson<{ local: boolean }>(name, small, 'pinned content', ['why', pinned])
  if (!keptPin.local) throw rig.failure(name, small, 'pinned content', `pinned ${pinned} was evicted`)
  const oldest = await rig.cliJson<{ local: boolean }>(name, small, 'least recently used', ['why', uris[0]])
  if (oldest.local) throw rig.failure(name, small, 'least recently used', `${uris[0]}, fetched first and never read since, is still there while newer cache was fetched past the limit`)
  const newest = await rig.cliJson<{ local: boolean }>(name, small, 'most recent', ['why', uris[uris.length - 1]])
  if (!newest.local) throw rig.failure(name, small, 'most recent', `${uris[uris.length - 1]}, fetched last, is not there`)
  return `fetched ${count} x ${formatSize(EVICT_FILE_BYTES)} into a ${formatSize(limit)} limit: ${evicted} blob(s) (${formatSize(status.space.metrics.evictedBytes)}) evicted, oldest first; usage ${formatSize(status.space.usage.total)}; pinned content kept`
}

/** The parts of `trove status --json`'s space report the rig checks (src/space/report.ts). */
interface SpaceStatus {
  limits: { maxSize?: number, hardLimit?: number }
  usage: { total: number }
  metrics: { evictedBlobs: number, evictedBytes: number }
}

async function sampleUri (rig: Rig, scenario: string): Promise<string> {
  for (const s of rig.plan.services.values()) {
    const dir = s.env.TROVE_RIG_DIR
    if (dir === undefined) continue
    const text = await fs.readFile(`${rig.localPath(s, dir)}/${SAMPLE_URI_FILE}`, 'utf8').catch(() => undefined)
    if (text !== undefined) return text.trim()
  }
  throw new ScenarioError({ scenario, peer: '-', step: 'sample', reason: `no ${SAMPLE_URI_FILE} in $TROVE_RIG_DIR: the compose file's add scenario did not run`, logTail: '' })
}

/** Writes `bytes` random bytes and returns their sha1. */
async function randomFile (file: string, bytes: number): Promise<string> {
  const hash = createHash('sha1')
  const fh = await fs.open(file, 'w')
  try {
    for (let left = bytes; left > 0;) {
      const chunk = randomBytes(Math.min(left, 1024 * 1024))
      hash.update(chunk)
      await fh.write(chunk)
      left -= chunk.length
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

async function sha1File (file: string): Promise<string> {
  const hash = createHash('sha1')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
