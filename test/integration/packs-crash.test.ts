import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterEach, describe, it } from 'node:test'
import { liveByPack, seededBlob } from '../helpers/packs.js'
import { settle } from '../helpers/space.js'
import { partsOf } from '../helpers/store.js'
import { openTempTrove, sha1Of, type TempTrove } from '../helpers/trove.js'

const LIB_ENTRY = fileURLToPath(new URL('../../src/index.js', import.meta.url))
const HELPERS = fileURLToPath(new URL('../helpers/packs.js', import.meta.url))
/** Small packs: they roll (and, with deletes, get compacted) many times before the kill. */
const PACKS = { targetBytes: 64 * 1024, retireGraceMs: 0 }
/** More than the child gets through before it is killed. */
const TOTAL = 200_000

/**
 * A child process that opens the data directory durably and stores seeded small blobs
 * (seededBlob(n)) from several writers at once, so commits go in batches. After each put resolves
 * it prints `p <n> <sha1>`. With `delete`, each writer then deletes those of every ten of its
 * blobs whose n % 10 < 7, printing `d? <n>` before the delete and `d <n>` once it is done, so that
 * packs fall under their live ratio and get compacted; `c <pack>` is printed as a compaction of a
 * pack starts.
 */
const CHILD_SCRIPT = `
const [lib, helpers, dataDir, mode, start, total, packs] = process.argv.slice(1)
const { createTrove } = await import(lib)
const { seededBlob } = await import(helpers)
const trove = await createTrove({ dataDir, durable: true, packs: JSON.parse(packs) })
const out = (line) => process.stdout.write(line + '\\n')
if (mode === 'delete') {
  // the store's PackFiles (private to it, reached at run time): its compactions are logged as they start
  const compact = trove.store.packs.compact.bind(trove.store.packs)
  trove.store.packs.compact = async (id) => { out('c ' + id); return compact(id) }
}
let next = Number(start)
const worker = async () => {
  const mine = []
  while (next < Number(start) + Number(total)) {
    const n = next++
    const r = await trove.store.putBytes(seededBlob(n))
    out('p ' + n + ' ' + r.sha1)
    mine.push([n, r.sha1])
    if (mode === 'delete' && mine.length === 10) {
      const gone = mine.splice(0).filter(([m]) => m % 10 < 7)
      for (const [m] of gone) out('d? ' + m)
      const res = await trove.store.deleteBatch(gone.map(([, sha1]) => sha1))
      const deleted = new Set(res.deleted.map((d) => d.sha1))
      for (const [m, sha1] of gone) if (deleted.has(sha1)) out('d ' + m)
    }
  }
}
await Promise.all(Array.from({ length: 8 }, worker))
out('finished')
await trove.close()
`

interface ChildLog {
  /** n -> sha1 the child reported for blobs whose put resolved. */
  stored: Map<number, string>
  /** Deletes started, and those that finished (the blob was deleted). */
  deleting: Set<number>
  deleted: Set<number>
  compactions: number
  outcome: string
  stderr: string
}

/**
 * Runs the child on `dataDir` with blobs numbered from `start` and SIGKILLs it once `killWhen`
 * holds for what it has printed, after a random pause of up to 30 ms: without it the kill lands in
 * the same phase of a commit every time (the child is always just past a batch when it prints).
 */
async function runAndKill (dataDir: string, mode: 'put' | 'delete', start: number, killWhen: (log: ChildLog) => boolean): Promise<ChildLog> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, pathToFileURL(LIB_ENTRY).href, pathToFileURL(HELPERS).href, dataDir, mode, String(start), String(TOTAL), JSON.stringify(PACKS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const log: ChildLog = { stored: new Map(), deleting: new Set(), deleted: new Set(), compactions: 0, outcome: '', stderr: '' }
  let killing = false
  child.stderr.on('data', (b: Buffer) => { log.stderr += b.toString() })
  let partial = ''
  log.outcome = await new Promise<string>((resolve) => {
    child.stdout.on('data', (b: Buffer) => {
      const lines = (partial + b.toString()).split('\n')
      // a line cut by the kill (or by the pipe) is not a report
      partial = lines.pop() as string
      for (const line of lines) {
        const [kind, a, b2] = line.split(' ')
        if (kind === 'p') log.stored.set(Number(a), b2)
        else if (kind === 'd?') log.deleting.add(Number(a))
        else if (kind === 'd') log.deleted.add(Number(a))
        else if (kind === 'c') log.compactions++
        else if (kind === 'finished') resolve('finished')
      }
      if (!killing && killWhen(log)) {
        killing = true
        setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }, Math.random() * 30)
      }
    })
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${String(code)}`))
  })
  return log
}

describe('kill -9 while small blobs are stored in packs', () => {
  let t: TempTrove
  afterEach(async () => { await t?.cleanup() })

  /** Every pack's file is as long as its committed size, its live bytes the index's; usage is the index's. */
  const assertConsistent = async (): Promise<void> => {
    const { store, db } = t.trove
    const live = await liveByPack(store)
    for (const [id, state] of partsOf(store).packs.list()) {
      assert.equal(state.live, live.get(id) ?? 0, `live bytes of pack ${id}`)
      assert.deepEqual(await db.packs.get(String(id)), state)
      assert.equal((await fs.stat(partsOf(store).packs.pathOf(id))).size, state.size, `file size of pack ${id}`)
    }
    let blobs = 0
    for await (const _ of store.list()) blobs++ // eslint-disable-line @typescript-eslint/no-unused-vars
    assert.equal(store.getUsage().blobs, blobs)
  }

  /** After the kill: the store opens, verifies clean, and takes new blobs that verify clean. */
  const reopenAndCheck = async (log: ChildLog, freshFrom: number): Promise<void> => {
    const trove = await t.reopen({ packs: PACKS })
    await assertConsistent()
    await settle(trove)
    const report = await trove.verify()
    assert.equal(report.ok, true, JSON.stringify({ ...report, adopted: report.adopted.length }))
    assert.deepEqual([report.missing, report.corrupt, report.adopted, report.strays], [[], [], [], []])
    for (const [n, sha1] of log.stored) {
      const bytes = seededBlob(n)
      assert.equal(sha1, sha1Of(bytes), `the child reported blob ${n} under another sha1`)
      if (log.deleted.has(n)) {
        assert.equal(await trove.store.has(sha1), false, `blob ${n} was deleted but is back`)
        continue
      }
      if (log.deleting.has(n) && !(await trove.store.has(sha1))) continue
      assert.deepEqual(await trove.store.readBytes(sha1), bytes, `blob ${n} reported stored is lost or changed`)
      assert.equal((await trove.store.locate(sha1))?.packed, true)
    }
    // new puts go in and verify clean, after another restart too (numbers at the end of this
    // run's range, which the child never reaches)
    const fresh = Array.from({ length: 50 }, (_, i) => seededBlob(freshFrom - 100 + i))
    for (const b of fresh) assert.equal((await trove.store.putBytes(b)).added, true)
    for (const b of fresh) assert.deepEqual(await trove.store.readBytes(sha1Of(b)), b)
    await settle(trove)
    const again = await trove.verify()
    assert.equal(again.ok, true, JSON.stringify(again))
    await t.reopen({ packs: PACKS })
    await assertConsistent()
    for (const b of fresh) assert.deepEqual(await t.trove.store.readBytes(sha1Of(b)), b)
  }

  /** The child's reports of several runs, in one log (runs use disjoint blob numbers). */
  const merge = (into: ChildLog, log: ChildLog): void => {
    for (const [n, sha1] of log.stored) into.stored.set(n, sha1)
    for (const n of log.deleting) into.deleting.add(n)
    for (const n of log.deleted) into.deleted.add(n)
  }
  const ROUNDS = 3

  it('durable puts: every blob reported stored survives with its bytes', async () => {
    t = await openTempTrove()
    await t.trove.close()
    const all: ChildLog = { stored: new Map(), deleting: new Set(), deleted: new Set(), compactions: 0, outcome: '', stderr: '' }
    for (let round = 0; round < ROUNDS; round++) {
      const log = await runAndKill(t.dir, 'put', round * TOTAL, (l) => l.stored.size >= 2000)
      assert.equal(log.outcome, 'SIGKILL', `the child was not killed mid-way (${log.outcome}): ${log.stderr}`)
      assert.ok(log.stored.size >= 2000)
      merge(all, log)
      await reopenAndCheck(all, (round + 1) * TOTAL)
      await t.trove.close()
    }
    await t.reopen({ packs: PACKS })
    // the killed runs rolled packs
    assert.ok(partsOf(t.trove.store).packs.list().length > 10, `${partsOf(t.trove.store).packs.list().length} packs`)
  })

  it('durable puts, deletes and compactions: stored blobs survive, deleted ones stay deleted', async () => {
    t = await openTempTrove()
    await t.trove.close()
    const all: ChildLog = { stored: new Map(), deleting: new Set(), deleted: new Set(), compactions: 0, outcome: '', stderr: '' }
    for (let round = 0; round < ROUNDS; round++) {
      // killed as a compaction starts, some way into the run (or, failing that, late)
      const log = await runAndKill(t.dir, 'delete', round * TOTAL, (l) => (l.compactions >= 20 && l.stored.size >= 1500) || l.stored.size >= 50_000)
      assert.equal(log.outcome, 'SIGKILL', `the child was not killed mid-way (${log.outcome}): ${log.stderr}`)
      assert.ok(log.compactions >= 20, `only ${log.compactions} compactions before the kill`)
      assert.ok(log.deleted.size > 0)
      merge(all, log)
      await reopenAndCheck(all, (round + 1) * TOTAL)
      await t.trove.close()
    }
  })
})
