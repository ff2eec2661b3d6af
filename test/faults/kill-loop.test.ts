import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { it } from 'node:test'
import { tempDir } from '../helpers/tmp.js'

const LIB_ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url))
/** The loop runs this long (or ITERATIONS_MAX kills in all, if sooner): a process start and a verify per kill. */
const LOOP_MS = Number(process.env.TROVE_KILL_LOOP_MS ?? 60_000)
const ITERATIONS_MAX = 300
/** Data directories killed in turn side by side: a kill's process start overlaps another's operations. */
const LANES = 2
/** A kill lands at a random moment this long after the child said it was ready (its ops take a few ms each). */
const KILL_WITHIN_MS = 250

/**
 * A child that opens the data directory: the restart after the last kill. It first checks what
 * the parent says was acknowledged before (file argv[4]): verify finds nothing corrupt, missing
 * or stray, no temp file is left, every acknowledged add and ref set is there. It prints the
 * outcome, then 'ready', then runs two loops of random operations until it is killed: adds held
 * by a ref (a file small enough for a pack, or a loose one), loose adds, ref sets and GC runs
 * (grace 0, so they evict the loose adds), printing a line for each operation acknowledged to it,
 * as an API client would be answered.
 */
const CHILD = `
const { createTrove } = await import(process.argv[1])
const { randomBytes } = await import('node:crypto')
const fs = await import('node:fs/promises')
const path = await import('node:path')
const { isDeepStrictEqual } = await import('node:util')
const dataDir = process.argv[2]
const run = process.argv[3]
const trove = await createTrove({ dataDir, create: true, space: { gracePeriodMs: 0 } })
const acked = JSON.parse(await fs.readFile(process.argv[4], 'utf8').catch(() => '{"held":[],"set":[]}'))
const problems = []
const tmp = await fs.readdir(path.join(dataDir, 'tmp'))
if (tmp.length > 0) problems.push('temp files left: ' + tmp.join(', '))
const report = await trove.verify()
for (const kind of ['corrupt', 'missing', 'strays']) if (report[kind].length > 0) problems.push(kind + ': ' + JSON.stringify(report[kind]))
for (const [key, sha1] of acked.held) {
  if (!(await trove.store.has(sha1))) problems.push('acknowledged add ' + key + ' (' + sha1 + ') lost')
  await trove.getRef(key).catch(() => problems.push('the ref of acknowledged add ' + key + ' lost'))
}
for (const [key, obj] of acked.set) {
  const ref = await trove.getRef(key).catch(() => undefined)
  if (ref === undefined || !isDeepStrictEqual(ref.obj, obj)) problems.push('acknowledged ref set ' + key + ' lost: ' + JSON.stringify(ref?.obj))
}
process.stdout.write(JSON.stringify({ checked: problems, adopted: report.adopted.length }) + '\\n')
const ack = (a) => process.stdout.write(JSON.stringify(a) + '\\n')
process.stdout.write('ready\\n')
let n = 0
async function loop (lane) {
  for (;;) {
    const i = n++
    const key = 'k/' + run + '/' + lane + '/' + i
    const r = Math.random()
    if (r < 0.35) {
      const size = Math.random() < 0.85 ? 1 + Math.floor(Math.random() * 16384) : 70000 + Math.floor(Math.random() * 30000)
      const res = await trove.addStream([randomBytes(size)], { ref: key, name: 'f' })
      ack({ op: 'add', key, sha1: res.sha1 })
    } else if (r < 0.55) {
      await trove.add([randomBytes(1 + Math.floor(Math.random() * 8192))])
    } else if (r < 0.9) {
      const obj = { i, lane, at: Date.now() }
      await trove.setRef(key, obj, { priority: i % 5 })
      ack({ op: 'set', key, obj })
    } else {
      await trove.gc()
      ack({ op: 'gc' })
    }
  }
}
await Promise.all([loop(0), loop(1)])
`

type Line = { op: 'add' | 'set' | 'gc', key?: string, sha1?: string, obj?: unknown } | { checked: string[], adopted: number }

interface Lane {
  dataDir: string
  ackFile: string
  held: Map<string, string>
  set: Map<string, unknown>
}

interface Tally { kills: number, gcs: number, adopted: number, checks: number }

/**
 * One restart and kill: the child checks what was acknowledged so far, runs until a random moment
 * after it is ready, and is killed (SIGKILL). Returns what it acknowledged; a check that failed
 * fails the test.
 */
async function restartAndKill (lane: Lane, run: number, tally: Tally): Promise<void> {
  await fs.writeFile(lane.ackFile, JSON.stringify({ held: [...lane.held], set: [...lane.set] }))
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(LIB_ENTRY).href, lane.dataDir, String(run), lane.ackFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Line[] = []
  let stderr = ''
  let partial = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
  child.stdout.on('data', (b: Buffer) => {
    const text = (partial + b.toString()).split('\n')
    partial = text.pop() ?? ''
    for (const line of text) {
      if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), Math.random() * KILL_WITHIN_MS)
      else if (line !== '') lines.push(JSON.parse(line) as Line)
    }
  })
  // a line cut by the kill was not acknowledged
  const signal = await exited
  const checked = lines.find((l): l is Extract<Line, { checked: string[] }> => 'checked' in l)
  assert.ok(checked !== undefined, `the restarted child did not check the data directory: ${stderr}`)
  assert.deepEqual(checked.checked, [], `after kill ${tally.kills} of ${lane.dataDir}`)
  tally.checks += lane.held.size + lane.set.size
  tally.adopted += checked.adopted
  assert.equal(signal, 'SIGKILL', `the child ended by itself: ${stderr}`)
  tally.kills++
  for (const l of lines) {
    if ('checked' in l) continue
    if (l.op === 'add') lane.held.set(l.key as string, l.sha1 as string)
    else if (l.op === 'set') lane.set.set(l.key as string, l.obj)
    else tally.gcs++
  }
}

it('kill -9 at random points of add, ref set and GC, in a loop: each restart verifies clean and keeps every acknowledged operation', async (t) => {
  const tmp = await tempDir('trove-kill-loop-')
  const tally: Tally = { kills: 0, gcs: 0, adopted: 0, checks: 0 }
  const lanes: Lane[] = Array.from({ length: LANES }, (_, i) => ({
    dataDir: path.join(tmp.dir, `data-${i}`),
    ackFile: path.join(tmp.dir, `acked-${i}.json`),
    held: new Map(),
    set: new Map()
  }))
  try {
    const end = Date.now() + LOOP_MS
    let run = 0
    await Promise.all(lanes.map(async (lane) => {
      while (Date.now() < end && tally.kills < ITERATIONS_MAX) await restartAndKill(lane, run++, tally)
      // the last restart checks what the last kill left
      await restartAndKill(lane, run++, tally)
    }))
    const held = lanes.reduce((n, l) => n + l.held.size, 0)
    const set = lanes.reduce((n, l) => n + l.set.size, 0)
    t.diagnostic(`${tally.kills} kills in ${LOOP_MS / 1000} s (${LANES} data directories); ${held} acknowledged adds, ${set} ref sets and ${tally.gcs} GC runs; ${tally.checks} checks of an acknowledged operation after a restart; ${tally.adopted} blob files adopted by verify`)
    assert.ok(tally.kills >= 10, `only ${tally.kills} kills fitted`)
    assert.ok(held > 0 && set > 0 && tally.gcs > 0, 'every kind of operation was acknowledged at least once')
  } finally {
    await tmp.cleanup()
  }
})
