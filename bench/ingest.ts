/**
 * Ingest bench: `trove add` of one large file against the standard tools doing the same job
 * (hash it, copy it, make it durable), on the same file, disk and cache state, in one run.
 *
 *   node dist/bench/ingest.js [--size 1GiB] [--runs 3] [--dir /path/on/the/disk/to/test] [--through-node]
 *
 * With --through-node, a node runs on the data directory (`trove start`, started before the
 * timing) and the timed `trove add` goes through its API: the node imports the path
 * (`POST /blobs/import`). The peak RSS is then the CLI's; the node's is that of `trove start`.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { benchArgs } from './lib/args.js'
import { canDropCaches, dropCaches } from './lib/cache.js'
import { runChecked, runMeasured } from './lib/child.js'
import { machineInfo, note, printResult, round } from './lib/output.js'
import { sha1CeilingMiBPerSec } from './lib/sha1-ceiling.js'
import { benchTempDir } from './lib/tmp.js'
import { alternate, median, mibPerSec, MIB } from './lib/timing.js'
import { TROVE_NODE_FLAGS } from '../src/node-flags.js'
import { startNode, stopNode, troveBin } from './lib/trove-node.js'

/** The size the goals are stated for. */
const DEFAULT_SIZE = 1024 * MIB
/** Odd counts give a true median; three keeps a 1 GiB run to a couple of minutes. */
const DEFAULT_RUNS = 3
/** Random source block, repeated with a per-page counter: fast to make, not compressible or dedupable. */
const SOURCE_BLOCK = 16 * MIB
/** The counter is stamped into every page so no two pages of the file are equal. */
const PAGE = 4096
/** Goals the bench checks (see the task): no slower than sha1sum + cp + sync, and small constant memory. */
const GOAL_RATIO = 1.0
const GOAL_PEAK_RSS_MB = 100

const BASELINE_SCRIPT = 'sha1sum "$1" && cp "$1" "$2" && sync'


async function makeFile (file: string, size: number): Promise<void> {
  const block = randomBytes(SOURCE_BLOCK)
  const fh = await fs.open(file, 'wx')
  try {
    let written = 0
    for (let n = 0; written < size; n++) {
      for (let p = 0; p + 4 <= block.length; p += PAGE) block.writeUInt32LE(n, p)
      const len = Math.min(block.length, size - written)
      let off = 0
      while (off < len) off += (await fh.write(block, off, len - off)).bytesWritten
      written += len
    }
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Reads the file once so a warm-cache run does not charge the first contestant for the disk. */
async function warmRead (file: string): Promise<void> {
  const fh = await fs.open(file, 'r')
  try {
    const buf = Buffer.allocUnsafe(4 * MIB)
    while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0) { /* discard */ }
  } finally {
    await fh.close()
  }
}

async function main (): Promise<void> {
  const args = benchArgs()
  const size = args.size ?? DEFAULT_SIZE
  const runs = args.runs ?? DEFAULT_RUNS
  await fs.access(troveBin).catch(() => { throw new Error(`built CLI not found at ${troveBin}; build first (npm run build)`) })

  const tmp = await benchTempDir('trove-bench-ingest-', args.dir)
  try {
    const file = path.join(tmp.dir, 'input.bin')
    note(`writing ${size} bytes to ${file}`)
    await makeFile(file, size)
    const cold = await canDropCaches()
    note(cold ? 'page cache is dropped before every run (cold reads)' : 'cannot drop the page cache: warm-cache runs')
    if (!cold) await warmRead(file)
    const prepare = async (): Promise<void> => {
      if (cold) await dropCaches()
      else await runChecked('sync', [])
    }

    const sha1Ceiling = sha1CeilingMiBPerSec()
    const baseline: number[] = []
    const trove: number[] = []
    const rss: number[] = []
    let rssSource: string | undefined
    let baselineSha1: string | undefined
    let troveSha1: string | undefined
    const runBaseline = async (): Promise<number> => {
      const dest = path.join(tmp.dir, 'copy.bin')
      await prepare()
      const b = await runChecked('bash', ['-c', BASELINE_SCRIPT, 'baseline', file, dest])
      baseline.push(b.seconds)
      baselineSha1 = b.stdout.split(/\s/)[0]
      await fs.rm(dest, { force: true })
      return b.seconds
    }
    const runTrove = async (i: number): Promise<number> => {
      const data = path.join(tmp.dir, `data-${i}`)
      await runChecked(process.execPath, [troveBin, '--data', data, 'init'])
      const node = args.throughNode === true ? await startNode(data) : undefined
      await prepare()
      // with the Node flags the `trove` command's launcher line gives (running node on the script skips that line)
      const t = await runChecked(process.execPath, [...TROVE_NODE_FLAGS, troveBin, '--json', '--data', data, 'add', file], { measureRss: true })
      trove.push(t.seconds)
      if (t.peakRssMB !== undefined) rss.push(t.peakRssMB)
      rssSource = t.rssSource
      troveSha1 = parseAddSha1(t.stdout)
      if (node !== undefined) await stopNode(node)
      await fs.rm(data, { recursive: true, force: true })
      return t.seconds
    }
    for (let i = 0; i < runs; i++) {
      const [b, t] = await alternate(i, runBaseline, async () => runTrove(i))
      note(`run ${i + 1}/${runs}: baseline ${b.toFixed(2)} s, trove ${t.toFixed(2)} s, peak RSS ${rss.at(-1)?.toFixed(1) ?? '?'} MB`)
    }

    const baselineSeconds = median(baseline)
    const troveSeconds = median(trove)
    // the worst run is what a user's memory limit has to allow for
    const peakRssMB = rss.length > 0 ? Math.max(...rss) : undefined
    const ratio = troveSeconds / baselineSeconds
    printResult({
      bench: 'ingest',
      mode: args.throughNode === true ? 'through a running node (POST /blobs/import)' : 'embedded',
      bytes: size,
      runs,
      cache: { dropped: cold, mode: cold ? 'cold' : 'warm' },
      ceiling: { sha1MiBPerSec: round(sha1Ceiling, 1) },
      baseline: { seconds: round(baselineSeconds, 3), mibPerSec: round(mibPerSec(size, baselineSeconds), 1), samples: baseline.map((s) => round(s, 3)), command: `bash -c '${BASELINE_SCRIPT}' _ FILE DEST` },
      trove: {
        seconds: round(troveSeconds, 3),
        mibPerSec: round(mibPerSec(size, troveSeconds), 1),
        peakRssMB: peakRssMB === undefined ? null : round(peakRssMB, 1),
        rssSource: rssSource ?? null,
        samples: trove.map((s) => round(s, 3)),
        command: `${process.execPath} ${TROVE_NODE_FLAGS.join(' ')} ${path.relative(process.cwd(), troveBin)} --json --data DIR add FILE`
      },
      ratio: round(ratio, 3),
      sameHash: baselineSha1 !== undefined && baselineSha1 === troveSha1,
      goals: { ratio: `<=${GOAL_RATIO}`, peakRssMB: `<${GOAL_PEAK_RSS_MB}` },
      met: { ratio: ratio <= GOAL_RATIO, peakRssMB: peakRssMB !== undefined && peakRssMB < GOAL_PEAK_RSS_MB },
      machine: machineInfo()
    })
  } finally {
    await tmp.cleanup()
  }
}

function parseAddSha1 (stdout: string): string | undefined {
  try {
    const parsed = JSON.parse(stdout) as Array<{ sha1?: string }> | { sha1?: string }
    return Array.isArray(parsed) ? parsed[0]?.sha1 : parsed.sha1
  } catch {
    return undefined
  }
}

await main()
