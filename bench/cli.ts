/**
 * What a user runs, measured from the outside (issue 12): the built `trove` binary against two
 * `trove start` processes on loopback (A holds the content, B fetches it), and in the same run the
 * ceilings of bench/fetch: a plain libp2p stream pair (tcp + noise + yamux, sha1 on the receiver,
 * with the Node flags Trove runs with) and raw TCP.
 *
 *   node dist/bench/cli.js        (JSON on stdout, progress on stderr)
 *
 * Sizes from the environment, for a quick run: TROVE_BENCH_MIB (the blob of get, stdout get and
 * add; default 1024), TROVE_BENCH_RANGE_MIB (the blob a 1 MiB range is read from the middle of;
 * default 4096), TROVE_BENCH_RUNS (repeats of each measurement; default 3), TROVE_BENCH_DIR (where
 * the data directories and files go; default the OS temp dir).
 *
 * Measured, each run on a fresh B (nothing of the blob stored there):
 * - get -o: `trove get URI -o FILE` of the blob, wall time of the command; ratio to the plain stream.
 * - stdout get: `trove get URI`, read from a pipe; wall time, and the time to its first byte (TTFB).
 * - add: `trove add FILE` through A (the node imports the path) against `sha1sum FILE && cp FILE
 *   COPY && sync` of the same file.
 * - range: `trove cat URI --offset M --length 1MiB` of the large blob, M its middle minus 512 KiB
 *   (a range over a chunk boundary, the worst case: two chunks); the chunks A served for it,
 *   from A's bytesServed.
 * - peak RSS of A, of every B and of each CLI process (GNU time, else /proc VmHWM sampling).
 * - startup: `node -e 0`, `trove --version`, and `trove cat` of a small blob A stores, through A,
 *   with V8's compile cache and without (TROVE_NO_COMPILE_CACHE=1): what a command costs before
 *   its first byte of any blob.
 *
 * Run it when `uptime` says the machine is quiet: two cores shared with other work move every
 * figure. The ratios (same run, interleaved) are what to compare.
 */
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { TROVE_NODE_FLAGS } from '../src/node-flags.js'
import { CHUNK_SIZE } from '../src/transfer/constants.js'
import { runMeasured } from './lib/child.js'
import { Children, RAW_CHILD, STREAM_CHILD, ensureBuilt } from './lib/net-cluster.js'
import { content } from './lib/net-content.js'
import { peakRssMB, type BenchChild } from './lib/net-ipc.js'
import { machineInfo, note, printResult, round } from './lib/output.js'
import { MIB, median, secondsSince } from './lib/timing.js'
import { benchTempDir } from './lib/tmp.js'

const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))
const GNU_TIME = '/usr/bin/time'
/** How long a node may take to print that it runs. */
const START_TIMEOUT_MS = 30_000
const RANGE_BYTES = MIB
/** Runs of each startup figure (each a process start, quick). */
const STARTUP_RUNS = 10

const sizeMiB = Number(process.env.TROVE_BENCH_MIB ?? 1024)
const rangeMiB = Number(process.env.TROVE_BENCH_RANGE_MIB ?? 4096)
const runs = Number(process.env.TROVE_BENCH_RUNS ?? 3)
const base = process.env.TROVE_BENCH_DIR ?? os.tmpdir()

interface Node { dir: string, pid: number, addr: string, api: string, stop: () => Promise<void> }

/** `trove start` on `dir` (initialized first), its API on a free port, listening on loopback. */
async function startNode (dir: string, bootstrap?: string): Promise<Node> {
  await runCli(['init'], dir)
  const args = [...TROVE_NODE_FLAGS, CLI, 'start', '--no-mdns', '--api', '0', '--listen', '/ip4/127.0.0.1/tcp/0']
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap)
  const child = spawn(process.execPath, args, { env: { ...process.env, TROVE_DATA: dir }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node on ${dir} did not start: ${out}`)), START_TIMEOUT_MS)
    const look = (b: Buffer): void => {
      out += b.toString()
      const l = out.split('\n').find((x) => x.includes('listening on'))
      if (l !== undefined) { clearTimeout(timer); resolve(l) }
    }
    child.stdout.on('data', look)
    child.stderr.on('data', look)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`node on ${dir} exited ${String(code)}: ${out}`)) })
  })
  const addr = /(\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\w+)/.exec(line)?.[1]
  const api = /API (http:\/\/\S+),/.exec(line)?.[1]
  if (addr === undefined || api === undefined) throw new Error(`cannot read the node's addresses from: ${line}`)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    dir,
    pid: child.pid as number,
    addr,
    api,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** A CLI command to completion (output kept: small answers only). */
async function runCli (args: string[], data: string): Promise<{ seconds: number, stdout: string, peakRssMB?: number }> {
  const run = await runMeasured(process.execPath, [...TROVE_NODE_FLAGS, CLI, ...args], { env: { ...process.env, TROVE_DATA: data }, measureRss: true })
  if (run.code !== 0) throw new Error(`trove ${args.join(' ')} exited ${run.code}: ${run.stderr.trim()}`)
  return { seconds: run.seconds, stdout: run.stdout, peakRssMB: run.peakRssMB }
}

/**
 * A CLI command whose stdout is a blob: read from a pipe here (as `trove get URI | tool` would be),
 * counted, not kept. Times the first byte and the end; peak RSS by GNU time.
 */
async function streamCli (args: string[], data: string, env: Record<string, string> = {}): Promise<{ seconds: number, ttfbMs: number, bytes: number, peakRssMB?: number }> {
  const rssFile = path.join(os.tmpdir(), `trove-bench-cli-${process.pid}-${Date.now()}`)
  const timed = existsSync(GNU_TIME)
  const cmd = timed ? GNU_TIME : process.execPath
  const argv = [...TROVE_NODE_FLAGS, CLI, ...args]
  const start = process.hrtime.bigint()
  const child = spawn(cmd, timed ? ['-f', '%M', '-o', rssFile, process.execPath, ...argv] : argv, { env: { ...process.env, ...env, TROVE_DATA: data }, stdio: ['ignore', 'pipe', 'pipe'] })
  let ttfbMs: number | undefined
  let bytes = 0
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => {
    ttfbMs ??= secondsSince(start) * 1000
    bytes += b.length
  })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  const seconds = secondsSince(start)
  if (code !== 0) throw new Error(`trove ${args.join(' ')} exited ${String(code)}: ${stderr.trim()}`)
  let peak: number | undefined
  if (timed) {
    peak = Number((await fs.readFile(rssFile, 'utf8')).trim().split('\n').pop()) / 1024
    await fs.rm(rssFile, { force: true })
  }
  return { seconds, ttfbMs: ttfbMs ?? seconds * 1000, bytes, peakRssMB: peak }
}

async function writeContent (file: string, seed: number, bytes: number): Promise<void> {
  await pipeline(Readable.from(content(seed, bytes)), createWriteStream(file))
}

async function sh (script: string): Promise<number> {
  const run = await runMeasured('sh', ['-c', script])
  if (run.code !== 0) throw new Error(`${script}: ${run.stderr}`)
  return run.seconds
}

async function bytesServed (node: Node): Promise<number> {
  const status = JSON.parse((await runCli(['--json', 'status'], node.dir)).stdout) as { network?: { bytesServed?: number } }
  return status.network?.bytesServed ?? 0
}

function range (values: number[], digits = 3): { median: number, min: number, max: number, runs: number[] } {
  return { median: round(median(values), digits), min: round(Math.min(...values), digits), max: round(Math.max(...values), digits), runs: values.map((v) => round(v, digits)) }
}

async function main (): Promise<void> {
  await ensureBuilt()
  const size = sizeMiB * MIB
  const rangeSize = rangeMiB * MIB
  const tmp = await benchTempDir('trove-bench-cli-', base)
  const kids = new Children(undefined, TROVE_NODE_FLAGS)
  const nodes: Node[] = []
  const result: Record<string, unknown> = { bench: 'cli', machine: machineInfo(), sizeMiB, rangeMiB, runs, troveNodeFlags: TROVE_NODE_FLAGS }
  try {
    note(`content: ${sizeMiB} MiB and ${rangeMiB} MiB files`)
    const file = path.join(tmp.dir, 'blob.bin')
    const bigFile = path.join(tmp.dir, 'big.bin')
    await writeContent(file, 1, size)
    await writeContent(bigFile, 2, rangeSize)

    note('ceilings: raw TCP and a plain libp2p stream pair (Trove\'s Node flags)')
    const rawServer = kids.spawn('raw-server', RAW_CHILD)
    const rawClient = kids.spawn('raw-client', RAW_CHILD)
    const { port } = await rawServer.call<{ port: number }>('listen')
    const streamServer = kids.spawn('stream-server', STREAM_CHILD, { withTroveFlags: true })
    const streamClient = kids.spawn('stream-client', STREAM_CHILD, { withTroveFlags: true })
    const { addr: streamAddr } = await streamServer.call<{ addr: string }>('start', {})
    await streamClient.call('start', {})
    const receive = async (client: BenchChild, args: unknown): Promise<number> => (await client.call<{ seconds: number }>('receive', args)).seconds

    const a = await startNode(path.join(tmp.dir, 'a'))
    nodes.push(a)
    const add: number[] = []
    const baseline: number[] = []
    let uri = ''
    for (let i = 0; i < runs; i++) {
      note(`add ${i + 1}/${runs}: sha1sum && cp && sync, then trove add through node A`)
      const copy = path.join(tmp.dir, 'copy.bin')
      baseline.push(await sh(`sha1sum '${file}' >/dev/null && cp '${file}' '${copy}' && sync`))
      await fs.rm(copy, { force: true })
      const added = await runCli(['--json', 'add', file], a.dir)
      add.push(added.seconds)
      uri = (JSON.parse(added.stdout) as Array<{ uri: string }>)[0].uri
      // the next add must store the file again: a fresh A (its store is where the copy goes)
      if (i < runs - 1) {
        await a.stop()
        nodes.splice(nodes.indexOf(a), 1)
        await fs.rm(a.dir, { recursive: true, force: true })
        Object.assign(a, await startNode(a.dir))
        nodes.push(a)
      }
    }
    const bigUri = (JSON.parse((await runCli(['--json', 'add', bigFile], a.dir)).stdout) as Array<{ uri: string }>)[0].uri

    note('startup: node -e 0, trove --version, trove cat of a small stored blob through node A (compile cache on and off)')
    const small = path.join(tmp.dir, 'small.txt')
    await fs.writeFile(small, 'hello\n')
    const smallUri = (JSON.parse((await runCli(['--json', 'add', small], a.dir)).stdout) as Array<{ uri: string }>)[0].uri
    const startup: Record<string, number[]> = { nodeBare: [], version: [], catLocal: [], catLocalNoCompileCache: [] }
    for (let i = 0; i < STARTUP_RUNS; i++) {
      startup.nodeBare.push((await runMeasured(process.execPath, ['-e', '0'])).seconds * 1000)
      startup.version.push((await runCli(['--version'], a.dir)).seconds * 1000)
      startup.catLocal.push((await streamCli(['cat', smallUri], a.dir)).seconds * 1000)
      startup.catLocalNoCompileCache.push((await streamCli(['cat', smallUri], a.dir, { TROVE_NO_COMPILE_CACHE: '1' })).seconds * 1000)
    }
    result.startupMs = Object.fromEntries(Object.entries(startup).map(([k, v]) => [k, range(v, 1)]))

    const rows = { getO: [] as number[], stdout: [] as number[], ttfbMs: [] as number[], rangeMs: [] as number[], rangeChunks: [] as number[], stream: [] as number[], raw: [] as number[] }
    const cliRss: Record<string, number[]> = { getO: [], stdout: [], range: [] }
    const bRss: number[] = []
    let n = 0
    const freshB = async (): Promise<Node> => {
      const b = await startNode(path.join(tmp.dir, `b${++n}`), a.addr)
      nodes.push(b)
      // a node someone uses has been up a while: its bootstrap peer is connected by then
      const until = Date.now() + START_TIMEOUT_MS
      while ((JSON.parse((await runCli(['--json', 'peers'], b.dir)).stdout) as unknown[]).length === 0) {
        if (Date.now() > until) throw new Error('node B did not connect to node A')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      return b
    }
    const dropB = async (b: Node): Promise<void> => {
      const peak = peakRssMB(b.pid)
      if (peak !== undefined) bRss.push(peak)
      await b.stop()
      nodes.splice(nodes.indexOf(b), 1)
      await fs.rm(b.dir, { recursive: true, force: true })
    }
    for (let i = 0; i < runs; i++) {
      // interleaved, so load from elsewhere on the machine hits every figure of a ratio alike
      note(`run ${i + 1}/${runs}: ceilings`)
      rows.raw.push(await receive(rawClient, { port, bytes: size }))
      rows.stream.push(await receive(streamClient, { addr: streamAddr, bytes: size }))

      note(`run ${i + 1}/${runs}: trove get -o`)
      let b = await freshB()
      const out = path.join(tmp.dir, 'out.bin')
      const got = await runCli(['get', uri, '-o', out], b.dir)
      rows.getO.push(got.seconds)
      if (got.peakRssMB !== undefined) cliRss.getO.push(got.peakRssMB)
      if ((await fs.stat(out)).size !== size) throw new Error('get -o wrote the wrong size')
      await fs.rm(out)
      await dropB(b)

      note(`run ${i + 1}/${runs}: trove get (stdout)`)
      b = await freshB()
      const streamed = await streamCli(['get', uri], b.dir)
      if (streamed.bytes !== size) throw new Error(`stdout get gave ${streamed.bytes} of ${size} bytes`)
      rows.stdout.push(streamed.seconds)
      rows.ttfbMs.push(streamed.ttfbMs)
      if (streamed.peakRssMB !== undefined) cliRss.stdout.push(streamed.peakRssMB)
      await dropB(b)

      note(`run ${i + 1}/${runs}: 1 MiB from the middle of the ${rangeMiB} MiB blob`)
      b = await freshB()
      const before = await bytesServed(a)
      const offset = Math.floor(rangeSize / 2) - RANGE_BYTES / 2
      const ranged = await streamCli(['cat', bigUri, '--offset', String(offset), '--length', String(RANGE_BYTES)], b.dir)
      if (ranged.bytes !== RANGE_BYTES) throw new Error(`range read gave ${ranged.bytes} bytes`)
      rows.rangeMs.push(ranged.seconds * 1000)
      rows.rangeChunks.push(Math.floor((await bytesServed(a) - before) / CHUNK_SIZE))
      if (ranged.peakRssMB !== undefined) cliRss.range.push(ranged.peakRssMB)
      await dropB(b)
    }

    const mibps = (secs: number[]): number[] => secs.map((s) => size / MIB / s)
    const streamRate = median(mibps(rows.stream))
    const ratio = (secs: number[]): number => round(median(mibps(secs)) / streamRate, 3)
    result.ceilings = { rawTcpMiBPerSec: range(mibps(rows.raw), 1), libp2pStreamMiBPerSec: range(mibps(rows.stream), 1) }
    result.getToFile = { seconds: range(rows.getO), mibPerSec: range(mibps(rows.getO), 1), ratioToStream: ratio(rows.getO), goal: '>= 0.9 of the plain stream' }
    result.getToStdout = { seconds: range(rows.stdout), mibPerSec: range(mibps(rows.stdout), 1), ratioToStream: ratio(rows.stdout), goal: '>= 0.8 of the plain stream' }
    result.ttfbMs = { ...range(rows.ttfbMs, 1), goal: '< 200 ms' }
    result.addThroughNode = { seconds: range(add), baselineSeconds: range(baseline), ratioToBaseline: round(median(add) / median(baseline), 3), baseline: 'sha1sum && cp && sync', goal: '<= 1.0' }
    result.rangeMiddle = { ms: range(rows.rangeMs, 1), chunksTransferred: rows.rangeChunks, goal: '< 100 ms, at most 2 chunks' }
    result.peakRssMB = {
      nodeA: round(peakRssMB(a.pid) ?? NaN, 1),
      nodeB: bRss.length > 0 ? round(Math.max(...bRss), 1) : undefined,
      cli: Object.fromEntries(Object.entries(cliRss).map(([k, v]) => [k, v.length > 0 ? round(Math.max(...v), 1) : undefined]))
    }
    result.loadavgAfter = os.loadavg().map((l) => round(l, 2))
    printResult(result)
  } finally {
    await kids.stopAll()
    for (const node of nodes) await node.stop().catch(() => {})
    await tmp.cleanup()
  }
}

const began = process.hrtime.bigint()
main().then(() => { note(`done in ${round(secondsSince(began), 1)} s`) }, (err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`)
  process.exitCode = 1
})
