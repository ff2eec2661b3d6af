import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { it } from 'node:test'
import { createTrove } from '../../src/node.js'
import { tempDir } from '../helpers/tmp.js'

const LIB_ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url))
/** The loop runs this long (or ITERATIONS_MAX kills, if sooner): a process start and a verify per kill. */
const LOOP_MS = Number(process.env.TROVE_KILL_LOOP_MS ?? 60_000)
const ITERATIONS_MAX = 300
/** A kill lands at a random moment this long after the child said it was ready (its ops take a few ms each). */
const KILL_WITHIN_MS = 250

/**
 * A child that opens the data directory and runs two loops of random operations until it is
 * killed: adds held by a ref (a file small enough for a pack, or a loose one), loose adds, ref
 * sets and GC runs (grace 0, so they evict the loose adds). It prints a line for each operation
 * acknowledged to it, as an API client would be answered.
 */
const CHILD = `
const { createTrove } = await import(process.argv[1])
const { randomBytes } = await import('node:crypto')
const trove = await createTrove({ dataDir: process.argv[2], create: true, space: { gracePeriodMs: 0 } })
const run = process.argv[3]
const ack = (a) => process.stdout.write(JSON.stringify(a) + '\\n')
process.stdout.write('ready\\n')
let n = 0
async function loop (lane) {
  for (;;) {
    const i = n++
    const key = 'k/' + run + '/' + lane + '/' + i
    const r = Math.random()
    if (r < 0.35) {
      const size = Math.random() < 0.85 ? 1 + Math.floor(Math.random() * 16384) : 200000 + Math.floor(Math.random() * 200000)
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

interface Ack { op: 'add' | 'set' | 'gc', key?: string, sha1?: string, obj?: unknown }

/** Runs the child until a random moment after it is ready, then SIGKILL; returns what it acknowledged. */
async function killedRun (dataDir: string, run: number): Promise<{ acks: Ack[], killed: boolean, stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(LIB_ENTRY).href, dataDir, String(run)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const acks: Ack[] = []
  let stderr = ''
  let partial = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
  child.stdout.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), Math.random() * KILL_WITHIN_MS)
      else if (line !== '') acks.push(JSON.parse(line) as Ack)
    }
  })
  const signal = await exited
  // a line cut by the kill was not acknowledged
  return { acks, killed: signal === 'SIGKILL', stderr }
}

it('kill -9 at random points of add, ref set and GC, in a loop: each restart verifies clean and keeps every acknowledged operation', async (t) => {
  const tmp = await tempDir('trove-kill-loop-')
  const dataDir = path.join(tmp.dir, 'data')
  const held = new Map<string, string>()
  const set = new Map<string, unknown>()
  let iterations = 0
  let gcs = 0
  let adopted = 0
  try {
    const end = Date.now() + LOOP_MS
    while (Date.now() < end && iterations < ITERATIONS_MAX) {
      const { acks, killed, stderr } = await killedRun(dataDir, iterations)
      assert.equal(killed, true, `the child ended by itself: ${stderr}`)
      for (const a of acks) {
        if (a.op === 'add') held.set(a.key as string, a.sha1 as string)
        else if (a.op === 'set') set.set(a.key as string, a.obj)
        else gcs++
      }
      iterations++

      const trove = await createTrove({ dataDir, space: { gracePeriodMs: 0 } })
      try {
        assert.deepEqual(await fs.readdir(path.join(dataDir, 'tmp')), [], 'no temp file is left')
        const report = await trove.verify()
        assert.deepEqual({ corrupt: report.corrupt, missing: report.missing, strays: report.strays }, { corrupt: [], missing: [], strays: [] }, `run ${iterations}`)
        // adoption (a blob file renamed into place, its index batch killed) is documented; it is not an acknowledged add
        adopted += report.adopted.length
        for (const [key, sha1] of held) {
          assert.equal(await trove.store.has(sha1), true, `acknowledged add ${key} (${sha1}) lost at run ${iterations}`)
          assert.equal((await trove.getRef(key)).obj !== undefined, true)
        }
        for (const [key, obj] of set) assert.deepEqual((await trove.getRef(key)).obj, obj, `acknowledged ref set ${key} lost at run ${iterations}`)
      } finally {
        await trove.close()
      }
    }
    t.diagnostic(`${iterations} kills in ${LOOP_MS / 1000} s at most; ${held.size} acknowledged adds, ${set.size} ref sets, ${gcs} GC runs checked; ${adopted} blob files adopted by verify`)
    assert.ok(iterations >= 10, `only ${iterations} kills fitted`)
    assert.ok(held.size > 0 && set.size > 0 && gcs > 0, 'every kind of operation was acknowledged at least once')
  } finally {
    await tmp.cleanup()
  }
})
