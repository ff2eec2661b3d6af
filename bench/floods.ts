/**
 * Memory under floods (issue 13 item 5), measured from the outside: a `trove start` process is
 * flooded by a hostile peer in this process while an honest peer keeps fetching from it, and the
 * target's RSS (/proc/<pid>/status) is sampled. Two phases:
 *
 * - announce: 4 streams at once, each 64 maximal messages (1,024 random blobs each), again and again;
 * - have: 16 requests at once of 4,096 random hashes each, answers read, again and again.
 *
 * Goal: peak RSS under 2x the idle RSS in both, and honest fetches completing during both.
 *
 *   node dist/bench/floods.js [--seconds 30] [--blobs 200] [--blob-size 65536] [--phases announce,have]
 *
 * Prints one JSON document on stdout.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { peerIdFromString } from '@libp2p/peer-id'
import { TROVE_NODE_FLAGS } from '../src/node-flags.js'
import { createTrove, type Trove } from '../src/node.js'
import { HAVE_PROTOCOL, MAX_HAVE_HASHES, MAX_HAVE_RESPONSE_BYTES } from '../src/protocols/have/constants.js'
import { HaveRequest } from '../src/protocols/have/pb/have.js'
import { StreamReader, frame, send } from '../src/protocols/stream-io.js'
import { floodAnnounceStream } from '../test/helpers/floods.js'
import { machineInfo, note, printResult, round } from './lib/output.js'

const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))
const ANNOUNCE_STREAMS = 4
const HAVE_STREAMS = 16
const SAMPLE_MS = 250
const MIB = 1024 * 1024

interface Target { pid: number, api: string, addr: string, token: string, stop: () => Promise<void> }

async function startTarget (dir: string): Promise<Target> {
  const data = path.join(dir, 'target')
  const env = { ...process.env, HOME: dir, TROVE_DATA: undefined }
  await new Promise<void>((resolve, reject) => {
    const init = spawn(process.execPath, [CLI, '--data', data, 'init'], { env, stdio: 'ignore' })
    init.once('exit', (code) => { code === 0 ? resolve() : reject(new Error(`trove init exited ${String(code)}`)) })
  })
  // with the flags the `trove` command runs Node with, as a user's node runs
  const child = spawn(process.execPath, [...TROVE_NODE_FLAGS, CLI, '--data', data, '--json', 'start', '--api', '127.0.0.1:0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
    })
    child.once('exit', (code) => { reject(new Error(`trove start exited ${String(code)}: ${out}`)) })
  })
  const started = JSON.parse(line) as { apiUrl: string, pid: number, multiaddrs: string[] }
  const token = (await fs.readFile(path.join(data, 'api-token'), 'utf8')).trim()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return {
    pid: started.pid,
    api: `${started.apiUrl}/api/v1`,
    addr: started.multiaddrs.find((a) => a.includes('127.0.0.1')) ?? started.multiaddrs[0],
    token,
    stop: async () => { child.kill('SIGTERM'); await exited }
  }
}

async function rssOf (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m === null ? 0 : Number(m[1]) * 1024
}

async function peer (dir: string, name: string, target: Target): Promise<Trove> {
  const trove = await createTrove({ dataDir: path.join(dir, name), create: true, durable: false })
  await trove.start({ mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [target.addr] })
  const id = peerIdFromString(target.addr.split('/p2p/')[1])
  for (let i = 0; i < 100 && trove.network?.libp2p.getConnections(id).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return trove
}

/** Runs `fn` in `n` loops until `end`; counts what completed and what failed. */
async function loops (n: number, end: number, fn: () => Promise<void>): Promise<{ done: number, failed: number }> {
  const out = { done: 0, failed: 0 }
  await Promise.all(Array.from({ length: n }, async () => {
    while (Date.now() < end) {
      try {
        await fn()
        out.done++
      } catch {
        out.failed++
      }
    }
  }))
  return out
}

type Flood = (libp2p: NonNullable<Trove['network']>['libp2p'], target: ReturnType<typeof peerIdFromString>, end: number) => Promise<{ done: number, failed: number }>

const announceFlood: Flood = async (libp2p, targetId, end) => loops(ANNOUNCE_STREAMS, end, async () => { await floodAnnounceStream(libp2p, targetId, 20_000) })

const haveStorm: Flood = async (libp2p, targetId, end) => loops(HAVE_STREAMS, end, async () => {
  const signal = AbortSignal.timeout(20_000)
  const stream = await libp2p.dialProtocol(targetId, HAVE_PROTOCOL, { signal })
  const reader = new StreamReader(stream)
  try {
    await send(stream, frame(HaveRequest.encode({ hashes: Array.from({ length: MAX_HAVE_HASHES }, () => randomBytes(20)) })), signal)
    await stream.close({ signal })
    await reader.readMessage(MAX_HAVE_RESPONSE_BYTES, signal)
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
})

/** One flood against a fresh `trove start`: its idle RSS, its peak under the flood, and the honest peer's fetches meanwhile. */
async function phase (dir: string, seconds: number, blobCount: number, blobSize: number, flood: Flood): Promise<Record<string, unknown>> {
  const target = await startTarget(dir)
  let attacker: Trove | undefined
  let honest: Trove | undefined
  try {
    const uris: string[] = []
    for (let i = 0; i < blobCount; i++) {
      const res = await fetch(`${target.api}/blobs`, { method: 'POST', body: randomBytes(blobSize), headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/octet-stream' } })
      uris.push(((await res.json()) as { uri: string }).uri)
    }
    attacker = await peer(dir, 'attacker', target)
    honest = await peer(dir, 'honest', target)
    const targetId = peerIdFromString(target.addr.split('/p2p/')[1])
    let peak = 0
    let last = 0
    const sample = async (end: number): Promise<void> => {
      while (Date.now() < end) {
        last = await rssOf(target.pid)
        peak = Math.max(peak, last)
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS))
      }
    }
    await sample(Date.now() + 3_000)
    const idle = peak
    peak = 0
    const end = Date.now() + seconds * 1000
    const honestLoop = async (): Promise<{ fetched: number, failed: number }> => {
      const out = { fetched: 0, failed: 0 }
      for (const uri of uris) {
        if (Date.now() >= end) break
        try {
          await honest?.ensureLocal(uri, { timeoutMs: 20_000 })
          out.fetched++
        } catch {
          out.failed++
        }
      }
      return out
    }
    const [requests, fetches] = await Promise.all([flood(attacker.network!.libp2p, targetId, end), honestLoop(), sample(end)]) // eslint-disable-line @typescript-eslint/no-non-null-assertion
    return { idleRssMiB: round(idle / MIB, 1), peakRssMiB: round(peak / MIB, 1), endRssMiB: round(last / MIB, 1), ratioToIdle: round(peak / idle, 2), requests, honest: fetches }
  } finally {
    await attacker?.close().catch(() => {})
    await honest?.close().catch(() => {})
    await target.stop()
    for (const name of ['target', 'attacker', 'honest']) await fs.rm(path.join(dir, name), { recursive: true, force: true })
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, blobs: { type: 'string' }, 'blob-size': { type: 'string' }, phases: { type: 'string' } } })
  const phases = (values.phases ?? 'announce,have').split(',')
  const seconds = Number(values.seconds ?? 30)
  const blobCount = Number(values.blobs ?? 200)
  const blobSize = Number(values['blob-size'] ?? 65536)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trove-floods-'))
  const result: Record<string, unknown> = { bench: 'floods', seconds, announceStreams: ANNOUNCE_STREAMS, haveStreams: HAVE_STREAMS, machine: machineInfo() }
  try {
    for (const [name, flood] of [['announce', announceFlood], ['have', haveStorm]] as const) {
      if (!phases.includes(name)) continue
      note(`${name} flood for ${seconds} s`)
      result[name] = await phase(dir, seconds, blobCount, blobSize, flood)
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
  const measured = phases.map((p) => result[p]) as Array<{ ratioToIdle: number, honest: { fetched: number } }>
  result.goal = 'peak RSS under 2x idle in both floods, honest fetches completing'
  result.met = measured.every((p) => p.ratioToIdle < 2 && p.honest.fetched > 0)
  printResult(result)
}

await main()
