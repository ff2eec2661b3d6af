/**
 * Directory get bench (issue 14, the read side): `trove get sha1dir://... -o DIR` by the built CLI
 * against a running `trove start` that fetches from a second `trove start` on loopback.
 *   (1) a tree of 10,000 files of 4 KiB in 100 folders: files/s (goal >= 5,000/s);
 *   (2) a tree of 100 files of 10 MiB: MiB/s against a plain libp2p stream moving the same bytes
 *       over the same stack in the same run (bench/lib/net-stream-child.ts; goal >= 0.9);
 *   (3) a directory of 100,000 entries: peak RSS (VmHWM) of the fetching node.
 * Each get runs against a fresh fetching node (nothing of the tree stored there). The providing
 * node's store is filled by the library before it starts (the directory add is the other half of
 * the issue). Phase times (manifests, fetch, write) come from a second get of each tree through
 * the API's progress lines, on another fresh node, with `cp -r` of the tree it wrote beside them:
 * the filesystem's own speed at creating those files, in the same minute.
 *
 *   node dist/bench/dirs-get.js [--files 10000] [--folders 100] [--big-files 100] [--big-size 10MiB]
 *                               [--huge 100000] [--runs 1] [--skip-big] [--skip-huge] [--dir DIR]
 *
 * The nodes run as `trove start` does, so the fetching node fsyncs every fetched blob (the plain
 * stream writes nothing); the tree written out is not fsynced file by file.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../src/api/client.js'
import { readApiToken } from '../src/api/token.js'
import { encodeDirManifest, type DirEntry } from '../src/dirs/manifest.js'
import { YAMUX_MAX_STREAM_WINDOW } from '../src/net/constants.js'
import { createTrove, type Trove } from '../src/node.js'
import type { DirProgress } from '../src/ops.js'
import { SMALL_IO_MAX_BYTES } from '../src/store/small-io.js'
import { parseSize } from '../src/units.js'
import { Children, STREAM_CHILD, ensureBuilt } from './lib/net-cluster.js'
import { machineInfo, note, printResult, round } from './lib/output.js'
import { benchTempDir } from './lib/tmp.js'
import { median, MIB } from './lib/timing.js'

const CLI = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))
const GOAL_FILES_PER_SEC = 5_000
const GOAL_RATIO_OF_STREAM = 0.9
/** Adds in flight while the provider is filled (large files are generated one per add, so this bounds memory too). */
const ADD_CONCURRENCY = 8

interface Node { child: ChildProcessWithoutNullStreams, data: string, pid: number, addr: string, apiUrl: string }

function args (): { files: number, folders: number, bigFiles: number, bigSize: number, huge: number, runs: number, skipBig: boolean, skipHuge: boolean, dir?: string } {
  const { values } = parseArgs({
    options: {
      files: { type: 'string' },
      folders: { type: 'string' },
      'big-files': { type: 'string' },
      'big-size': { type: 'string' },
      huge: { type: 'string' },
      runs: { type: 'string' },
      'skip-big': { type: 'boolean' },
      'skip-huge': { type: 'boolean' },
      dir: { type: 'string' }
    }
  })
  return {
    files: Number(values.files ?? 10_000),
    folders: Number(values.folders ?? 100),
    bigFiles: Number(values['big-files'] ?? 100),
    bigSize: parseSize(values['big-size'] ?? '10MiB'),
    huge: Number(values.huge ?? 100_000),
    runs: Number(values.runs ?? 1),
    skipBig: values['skip-big'] === true,
    skipHuge: values['skip-huge'] === true,
    dir: values.dir
  }
}

/** Bytes that differ per file and neither compress nor dedup: AES-CTR of zeros keyed by the seed (GB/s, unlike a hash per 20 bytes). */
function content (seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()])
}

/** Stores a directory level by level through the library; answers the manifest's sha1 and total size. */
async function storeDir (trove: Trove, files: Array<[string, Buffer | (() => Buffer)]>, dirs: Array<[string, { sha1: string, size: number }]> = []): Promise<{ sha1: string, size: number }> {
  const entries: DirEntry[] = []
  // a few adds at once: the store's commits batch, and 100,000 entries fill in a minute, not ten
  let next = 0
  await Promise.all(Array.from({ length: Math.min(ADD_CONCURRENCY, files.length) }, async () => {
    while (next < files.length) {
      const [name, c] = files[next++]
      const bytes = typeof c === 'function' ? c() : c
      // small ones straight into a pack (as a fetched blob lands): a file each took 25 minutes for 100,000 on a loaded machine
      const put = bytes.byteLength <= SMALL_IO_MAX_BYTES ? await trove.store.putBytes(bytes) : await trove.add([bytes])
      entries.push({ name, kind: 'file', sha1: put.sha1, size: put.size, exec: false })
    }
  }))
  for (const [name, d] of dirs) entries.push({ name, kind: 'dir', sha1: d.sha1, size: d.size, exec: false })
  const put = await trove.add([encodeDirManifest({ entries })])
  return { sha1: put.sha1, size: entries.reduce((n, e) => n + e.size, 0) }
}

async function cli (data: string, argv: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, '--data', data, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { code, stdout, stderr }
}

async function init (data: string): Promise<void> {
  const r = await cli(data, ['init'])
  if (r.code !== 0) throw new Error(`trove init failed: ${r.stderr}`)
}

/** `trove start` on loopback, free ports, no mDNS; resolves once it printed its start line. */
async function start (data: string, extra: string[] = []): Promise<Node> {
  const child = spawn(process.execPath, [CLI, '--data', data, '--json', 'start', '--api', '127.0.0.1:0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(out.slice(0, nl))
    })
    child.once('exit', (code) => { reject(new Error(`trove start exited (${String(code)}): ${err}`)) })
  })
  const started = JSON.parse(line) as { apiUrl: string, pid: number, multiaddrs?: string[] }
  const addr = (started.multiaddrs ?? []).find((m) => m.includes('/ip4/127.0.0.1/')) ?? ''
  return { child, data, pid: started.pid, addr, apiUrl: started.apiUrl }
}

async function stop (node: Node): Promise<void> {
  const exited = new Promise((resolve) => node.child.once('exit', resolve))
  node.child.kill('SIGTERM')
  await exited
}

/** VmHWM and VmRSS of a process, in MB. */
async function memOf (pid: number): Promise<{ peakRssMB: number, rssMB: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { peakRssMB: round(kb('VmHWM') / 1024, 1), rssMB: round(kb('VmRSS') / 1024, 1) }
}

/** A fresh fetching node bootstrapped from `provider`, connected before it is used. */
async function freshFetcher (base: string, name: string, provider: Node): Promise<Node> {
  const data = path.join(base, name)
  await init(data)
  const node = await start(data, ['--bootstrap', provider.addr])
  const client = new ApiClient({ url: node.apiUrl })
  for (let i = 0; i < 100 && (await client.peers()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  return node
}

/** `trove get` by the CLI against a running fetching node: wall seconds of the whole command. */
async function timedGet (fetcher: Node, uri: string, out: string): Promise<number> {
  const begin = process.hrtime.bigint()
  const r = await cli(fetcher.data, ['--json', 'get', uri, '-o', out])
  const seconds = Number(process.hrtime.bigint() - begin) / 1e9
  if (r.code !== 0) throw new Error(`trove get failed: ${r.stderr}${r.stdout}`)
  return seconds
}

/** The same get through the API, with the time each phase took (from its progress lines). */
async function phasedGet (fetcher: Node, uri: string, out: string): Promise<Record<string, number>> {
  const client = new ApiClient({ url: fetcher.apiUrl, token: await readApiToken(fetcher.data) })
  const marks: Array<[string, bigint]> = []
  const begin = process.hrtime.bigint()
  await client.getDir(uri, out, { onProgress: (p: DirProgress) => { if (marks.at(-1)?.[0] !== p.phase) marks.push([p.phase, process.hrtime.bigint()]) } })
  const end = process.hrtime.bigint()
  const phases: Record<string, number> = {}
  const firstAt = marks[0]?.[1] ?? end
  phases.resolveRootSeconds = round(Number(firstAt - begin) / 1e9, 3)
  for (const [i, [phase, at]] of marks.entries()) phases[`${phase}Seconds`] = round(Number((marks[i + 1]?.[1] ?? end) - at) / 1e9, 3)
  // the filesystem's own speed at making the same tree, in the same minute: `cp -r` of what was written
  const cpBegin = process.hrtime.bigint()
  await run('cp', ['-r', out, `${out}-cp`])
  phases.cpTreeSeconds = round(Number(process.hrtime.bigint() - cpBegin) / 1e9, 3)
  if (phases.writeSeconds !== undefined) phases.writeRatioOfCp = round(phases.cpTreeSeconds / phases.writeSeconds, 3)
  await fs.rm(`${out}-cp`, { recursive: true, force: true })
  return phases
}

async function run (cmd: string, argv: string[]): Promise<void> {
  const child = spawn(cmd, argv, { stdio: 'ignore' })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${String(code)}`)
}

async function main (): Promise<void> {
  const a = args()
  await ensureBuilt()
  const tmp = await benchTempDir('trove-bench-dirs-get-', a.dir)
  const kids = new Children()
  const nodes: Node[] = []
  const result: Record<string, unknown> = { bench: 'dirs-get', machine: machineInfo(), runs: a.runs }
  try {
    const providerData = path.join(tmp.dir, 'provider')
    await init(providerData)
    note(`filling the provider: ${a.files} files of 4 KiB in ${a.folders} folders${a.skipBig ? '' : `, ${a.bigFiles} files of ${a.bigSize} bytes`}${a.skipHuge ? '' : `, one folder of ${a.huge} entries`}`)
    const trove = await createTrove({ dataDir: providerData, durable: false })
    let small: { sha1: string, size: number }
    let big: { sha1: string, size: number } | undefined
    let huge: { sha1: string, size: number } | undefined
    try {
      const folders: Array<[string, { sha1: string, size: number }]> = []
      const per = Math.ceil(a.files / a.folders)
      for (let f = 0; f < a.folders; f++) {
        const files: Array<[string, Buffer]> = []
        for (let i = 0; i < per && f * per + i < a.files; i++) files.push([`file-${i}.bin`, content(`small-${f}-${i}`, 4096)])
        folders.push([`folder-${f}`, await storeDir(trove, files)])
      }
      small = await storeDir(trove, [], folders)
      if (!a.skipBig) big = await storeDir(trove, Array.from({ length: a.bigFiles }, (_, i): [string, () => Buffer] => [`part-${i}.bin`, () => content(`big-${i}`, a.bigSize)]))
      if (!a.skipHuge) huge = await storeDir(trove, Array.from({ length: a.huge }, (_, i): [string, Buffer] => [`entry-${String(i).padStart(6, '0')}.txt`, Buffer.from(`entry ${i}\n`)]))
    } finally {
      await trove.close()
    }
    const provider = await start(providerData)
    nodes.push(provider)

    note(`(1) trove get of ${a.files} files of 4 KiB in ${a.folders} folders`)
    const smallRuns: number[] = []
    for (let r = 0; r < a.runs; r++) {
      const fetcher = await freshFetcher(tmp.dir, `small-${r}`, provider)
      nodes.push(fetcher)
      smallRuns.push(await timedGet(fetcher, `sha1dir://${small.sha1}`, path.join(tmp.dir, `out-small-${r}`)))
      await stop(fetcher)
      await fs.rm(path.join(tmp.dir, `out-small-${r}`), { recursive: true, force: true })
    }
    const phased = await freshFetcher(tmp.dir, 'small-phased', provider)
    nodes.push(phased)
    const smallPhases = await phasedGet(phased, `sha1dir://${small.sha1}`, path.join(tmp.dir, 'out-small-phased'))
    await stop(phased)
    await fs.rm(path.join(tmp.dir, 'out-small-phased'), { recursive: true, force: true })
    const smallSeconds = median(smallRuns)
    result.smallFiles = {
      files: a.files,
      folders: a.folders,
      fileBytes: 4096,
      seconds: round(smallSeconds, 3),
      runsSeconds: smallRuns.map((s) => round(s, 3)),
      filesPerSec: round(a.files / smallSeconds),
      goalFilesPerSec: GOAL_FILES_PER_SEC,
      meetsGoal: a.files / smallSeconds >= GOAL_FILES_PER_SEC,
      phasesThroughApi: smallPhases,
      note: 'seconds: the whole `trove get` command (CLI start, API call, manifests, fetch, write, rename)'
    }

    if (big !== undefined) {
      const bytes = a.bigFiles * a.bigSize
      note(`(2) trove get of ${a.bigFiles} files of ${a.bigSize} bytes, against a plain libp2p stream of ${bytes} bytes`)
      const server = kids.spawn('stream-server', STREAM_CHILD)
      const client = kids.spawn('stream-client', STREAM_CHILD)
      const { addr } = await server.call<{ addr: string }>('start', { streamWindow: YAMUX_MAX_STREAM_WINDOW })
      await client.call('start', { streamWindow: YAMUX_MAX_STREAM_WINDOW })
      const streamRuns: number[] = []
      const troveRuns: number[] = []
      for (let r = 0; r < a.runs; r++) {
        // interleaved, so load from elsewhere on the machine hits both sides of the ratio alike
        streamRuns.push((await client.call<{ seconds: number }>('receive', { addr, bytes })).seconds)
        const fetcher = await freshFetcher(tmp.dir, `big-${r}`, provider)
        nodes.push(fetcher)
        troveRuns.push(await timedGet(fetcher, `sha1dir://${big.sha1}`, path.join(tmp.dir, `out-big-${r}`)))
        await stop(fetcher)
        await fs.rm(path.join(tmp.dir, `out-big-${r}`), { recursive: true, force: true })
        await fs.rm(path.join(tmp.dir, `big-${r}`), { recursive: true, force: true })
      }
      await kids.stopAll()
      const bigPhased = await freshFetcher(tmp.dir, 'big-phased', provider)
      nodes.push(bigPhased)
      const bigPhases = await phasedGet(bigPhased, `sha1dir://${big.sha1}`, path.join(tmp.dir, 'out-big-phased'))
      await stop(bigPhased)
      await fs.rm(path.join(tmp.dir, 'out-big-phased'), { recursive: true, force: true })
      await fs.rm(path.join(tmp.dir, 'big-phased'), { recursive: true, force: true })
      const streamMiB = bytes / MIB / median(streamRuns)
      const troveMiB = bytes / MIB / median(troveRuns)
      result.bigFiles = {
        files: a.bigFiles,
        fileBytes: a.bigSize,
        troveMiBPerSec: round(troveMiB),
        troveRunsSeconds: troveRuns.map((s) => round(s, 3)),
        libp2pStreamMiBPerSec: round(streamMiB),
        streamRunsSeconds: streamRuns.map((s) => round(s, 3)),
        ratioOfStream: round(troveMiB / streamMiB, 3),
        goalRatioOfStream: GOAL_RATIO_OF_STREAM,
        meetsGoal: troveMiB / streamMiB >= GOAL_RATIO_OF_STREAM,
        phasesThroughApi: bigPhases,
        note: 'trove: the whole `trove get` (fetch into the store, verified, then the tree written out); stream: bytes moved and hashed, nothing written'
      }
    }

    if (huge !== undefined) {
      note(`(3) trove get of one folder of ${a.huge} entries: peak RSS of the fetching node`)
      const fetcher = await freshFetcher(tmp.dir, 'huge', provider)
      nodes.push(fetcher)
      const before = await memOf(fetcher.pid)
      const seconds = await timedGet(fetcher, `sha1dir://${huge.sha1}`, path.join(tmp.dir, 'out-huge'))
      const after = await memOf(fetcher.pid)
      await stop(fetcher)
      result.hugeDir = { entries: a.huge, seconds: round(seconds, 3), filesPerSec: round(a.huge / seconds), rssBeforeMB: before.rssMB, peakRssBeforeMB: before.peakRssMB, peakRssMB: after.peakRssMB }
    }
  } finally {
    await kids.stopAll()
    await Promise.allSettled(nodes.filter((n) => n.child.exitCode === null).map(stop))
    await tmp.cleanup()
  }
  printResult(result)
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
