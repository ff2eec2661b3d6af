/**
 * Directory bench (issue 14), in parts; TROVE_BENCH_PARTS picks them (default: every part this
 * script has). Prints one JSON object with a section per part.
 *
 *   node dist/bench/dirs.js [--runs 3] [--dir /path/on/the/disk/to/test]
 *   TROVE_BENCH_PARTS=add node dist/bench/dirs.js
 *
 * Part `add`:
 * - a tree of 10,000 files of 4 KiB in 100 folders, added with `trove add DIR` through a running
 *   node (the built CLI; the node reads the tree, POST /dirs/import), in files/s (goal >= 5,000),
 *   against `cp -r` of the tree, `sync`, and `sha1sum` of every file, measured in the same run,
 *   alternating which goes first;
 * - the peak RSS of an embedded `trove add` (the process that does all the work) of one folder
 *   of 100,000 entries (TROVE_BENCH_HUGE_ENTRIES to change the count).
 *
 * A part another change adds (`get`) registers itself in PARTS below.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { TROVE_NODE_FLAGS } from '../src/node-flags.js'
import { benchArgs, type BenchArgs } from './lib/args.js'
import { runChecked } from './lib/child.js'
import { machineInfo, note, printResult, round } from './lib/output.js'
import { benchTempDir } from './lib/tmp.js'
import { alternate, median } from './lib/timing.js'
import { startNode, stopNode, troveBin } from './lib/trove-node.js'

const FILES = 10_000
const FOLDERS = 100
const FILE_BYTES = 4096
const HUGE_ENTRIES = Number(process.env.TROVE_BENCH_HUGE_ENTRIES ?? 100_000)
const HUGE_FILE_BYTES = 64
const DEFAULT_RUNS = 3
const GOAL_FILES_PER_SEC = 5_000
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const CLOCK_TICKS = 100

const BASELINE_SCRIPT = 'cp -r "$1" "$2" && sync && find "$1" -type f -print0 | xargs -0 sha1sum > /dev/null'

interface PartContext {
  args: BenchArgs
  /** A temp folder on the disk under test, removed after the part. */
  dir: string
}

type Part = (ctx: PartContext) => Promise<Record<string, unknown>>

const PARTS: Record<string, Part> = {
  add: addPart
}

/** Files of distinct random content: `d<j>/f<i>.bin`, `count` of them over `folders` folders. */
async function makeTree (root: string, count: number, folders: number, bytes: number): Promise<void> {
  for (let j = 0; j < folders; j++) await fs.mkdir(path.join(root, `d${j}`), { recursive: true })
  const pending: Array<Promise<void>> = []
  for (let i = 0; i < count; i++) {
    pending.push(fs.writeFile(path.join(root, `d${i % folders}`, `f${i}.bin`), randomBytes(bytes)))
    if (pending.length >= 256) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
  await runChecked('sync', [])
}

/** User + system CPU seconds a process has used so far (all its threads), from /proc; undefined elsewhere. */
async function cpuSeconds (pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (stat === undefined) return undefined
  // fields after the command name (which may hold spaces): utime and stime are the 12th and 13th
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

async function addPart ({ args, dir }: PartContext): Promise<Record<string, unknown>> {
  const runs = args.runs ?? DEFAULT_RUNS
  const tree = path.join(dir, 'tree')
  note(`writing ${FILES} files of ${FILE_BYTES} B in ${FOLDERS} folders`)
  await makeTree(tree, FILES, FOLDERS, FILE_BYTES)

  const baseline: number[] = []
  const trove: number[] = []
  /** CPU seconds of the node (all its threads) per add: steadier than the rate on a loaded machine. */
  const nodeCpu: number[] = []
  let files: number | undefined
  const runBaseline = async (): Promise<number> => {
    const dest = path.join(dir, 'copy')
    await runChecked('sync', [])
    const b = await runChecked('bash', ['-c', BASELINE_SCRIPT, 'baseline', tree, dest])
    baseline.push(b.seconds)
    await fs.rm(dest, { recursive: true, force: true })
    return b.seconds
  }
  const runTrove = async (i: number): Promise<number> => {
    const data = path.join(dir, `data-${i}`)
    await runChecked(process.execPath, [troveBin, '--data', data, 'init'])
    const node = await startNode(data)
    try {
      await runChecked('sync', [])
      const cpu0 = await cpuSeconds(node.pid)
      const t = await runChecked(process.execPath, [...TROVE_NODE_FLAGS, troveBin, '--json', '--data', data, 'add', tree])
      const cpu1 = await cpuSeconds(node.pid)
      if (cpu0 !== undefined && cpu1 !== undefined) nodeCpu.push(cpu1 - cpu0)
      files = (JSON.parse(t.stdout) as Array<{ files: number }>)[0].files
      trove.push(t.seconds)
      return t.seconds
    } finally {
      await stopNode(node)
      await fs.rm(data, { recursive: true, force: true })
    }
  }
  for (let i = 0; i < runs; i++) {
    const [b, t] = await alternate(i, runBaseline, async () => runTrove(i))
    note(`run ${i + 1}/${runs}: baseline ${b.toFixed(2)} s, trove add ${t.toFixed(2)} s (${Math.round(FILES / t)} files/s)`)
  }
  await fs.rm(tree, { recursive: true, force: true })

  note(`writing one folder of ${HUGE_ENTRIES} files of ${HUGE_FILE_BYTES} B`)
  const huge = path.join(dir, 'huge')
  await makeTree(huge, HUGE_ENTRIES, 1, HUGE_FILE_BYTES)
  const data = path.join(dir, 'data-huge')
  await runChecked(process.execPath, [troveBin, '--data', data, 'init'])
  const h = await runChecked(process.execPath, [...TROVE_NODE_FLAGS, troveBin, '--json', '--data', data, 'add', huge], { measureRss: true })
  const hugeFiles = (JSON.parse(h.stdout) as Array<{ files: number }>)[0].files
  await fs.rm(data, { recursive: true, force: true })
  await fs.rm(huge, { recursive: true, force: true })

  const troveSeconds = median(trove)
  const baselineSeconds = median(baseline)
  const filesPerSec = FILES / troveSeconds
  return {
    tree: { files: FILES, folders: FOLDERS, fileBytes: FILE_BYTES },
    runs,
    baseline: { seconds: round(baselineSeconds, 3), filesPerSec: Math.round(FILES / baselineSeconds), samples: baseline.map((s) => round(s, 3)), command: `bash -c '${BASELINE_SCRIPT}' _ TREE COPY` },
    trove: {
      mode: 'through a running node (POST /dirs/import)',
      seconds: round(troveSeconds, 3),
      filesPerSec: Math.round(filesPerSec),
      files,
      samples: trove.map((s) => round(s, 3)),
      nodeCpuMsPerFile: nodeCpu.length > 0 ? round(median(nodeCpu) * 1000 / FILES, 3) : null,
      command: `${process.execPath} ${TROVE_NODE_FLAGS.join(' ')} ${path.relative(process.cwd(), troveBin)} --json --data DIR add TREE`
    },
    ratio: round(troveSeconds / baselineSeconds, 3),
    huge: {
      entries: HUGE_ENTRIES,
      files: hugeFiles,
      mode: 'embedded trove add (the process does all the work)',
      seconds: round(h.seconds, 2),
      filesPerSec: Math.round(hugeFiles / h.seconds),
      peakRssMB: h.peakRssMB === undefined ? null : round(h.peakRssMB, 1),
      rssSource: h.rssSource ?? null
    },
    goals: { filesPerSec: `>=${GOAL_FILES_PER_SEC}` },
    met: { filesPerSec: filesPerSec >= GOAL_FILES_PER_SEC }
  }
}

async function main (): Promise<void> {
  const args = benchArgs()
  await fs.access(troveBin).catch(() => { throw new Error(`built CLI not found at ${troveBin}; build first (npm run build)`) })
  const asked = (process.env.TROVE_BENCH_PARTS ?? Object.keys(PARTS).join(',')).split(',').map((p) => p.trim()).filter((p) => p !== '')
  const unknown = asked.filter((p) => PARTS[p] === undefined)
  if (unknown.length > 0) throw new Error(`TROVE_BENCH_PARTS: no part ${unknown.join(', ')} (parts: ${Object.keys(PARTS).join(', ')})`)
  const parts: Record<string, unknown> = {}
  for (const name of asked) {
    const tmp = await benchTempDir(`trove-bench-dirs-${name}-`, args.dir)
    try {
      parts[name] = await PARTS[name]({ args, dir: tmp.dir })
    } finally {
      await tmp.cleanup()
    }
  }
  printResult({ bench: 'dirs', parts, machine: machineInfo() })
}

await main()
