import assert from 'node:assert/strict'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { it } from 'node:test'
import { WriteGuard } from '../../src/db/write-guard.js'
import type { Root } from '../../src/db/schema.js'
import { memoryLogger } from '../../src/logger.js'

/** A root database whose writes resolve when told to, or fail as LevelDB does when its log cannot be written. */
function fakeLevel (): { level: Root, calls: string[], fail: (message?: string, code?: string) => void, pending: Array<() => void> } {
  const calls: string[] = []
  const pending: Array<() => void> = []
  let failing: Error | undefined
  const write = (name: string) => async (): Promise<void> => {
    calls.push(name)
    if (failing !== undefined) {
      const err = failing
      failing = undefined
      throw err
    }
    await new Promise<void>((resolve) => pending.push(resolve))
  }
  const level = {
    put: write('put'),
    del: write('del'),
    batch: write('batch'),
    clear: write('clear'),
    close: async () => { calls.push('close') },
    open: async () => { calls.push('open') }
  }
  return { level: level as unknown as Root, calls, fail: (m = 'IO error: /x/000003.log: No space left on device', code = 'LEVEL_IO_ERROR') => { failing = Object.assign(new Error(m), { code }) }, pending }
}

it('after a failed write the database refuses every write, in flight ones included, until it has been reopened', async () => {
  const f = fakeLevel()
  const sub = { opened: 0, open: async () => { sub.opened++ } }
  const guard = new WriteGuard({ db: { level: f.level, sublevels: [sub], path: os.tmpdir() }, log: memoryLogger().forComponent('db') })
  const level = f.level as unknown as Record<'put' | 'batch', (...a: unknown[]) => Promise<unknown>>
  try {
    const ok = level.put('a', 1)
    f.pending.shift()?.()
    await ok
    // one write in flight while another fails: it may have gone to the log after the torn record
    const inFlight = level.batch([])
    f.fail()
    await assert.rejects(level.put('b', 2), { name: 'StorageFullError', code: 'STORAGE_FULL' })
    f.pending.shift()?.()
    await assert.rejects(inFlight, { name: 'StorageFullError' })
    const before = f.calls.length
    await assert.rejects(level.put('c', 3), { name: 'StorageFullError' })
    assert.equal(f.calls.length, before, 'a refused write never reaches the database')
    assert.ok(guard.failed !== undefined)
    // the probe finds room (the temp dir's filesystem) and reopens the root and its tables
    while (guard.failed !== undefined) await sleep(50)
    assert.deepEqual(f.calls.slice(-2), ['close', 'open'])
    assert.equal(sub.opened, 1)
    const again = level.put('d', 4)
    f.pending.shift()?.()
    await again
  } finally {
    await guard.close()
  }
})

it('an I/O error other than a full disk is refused as STORAGE_FAILED; other errors pass unchanged', async () => {
  const f = fakeLevel()
  const guard = new WriteGuard({ db: { level: f.level, sublevels: [], path: os.tmpdir() }, log: memoryLogger().forComponent('db') })
  const level = f.level as unknown as Record<'put', (...a: unknown[]) => Promise<unknown>>
  try {
    f.fail('IO error: /x/000003.log: Input/output error')
    await assert.rejects(level.put('a', 1), { name: 'StorageFailedError', code: 'STORAGE_FAILED' })
  } finally {
    await guard.close()
  }
  const g = fakeLevel()
  const other = new WriteGuard({ db: { level: g.level, sublevels: [], path: os.tmpdir() }, log: memoryLogger().forComponent('db') })
  const put = (g.level as unknown as Record<'put', (...a: unknown[]) => Promise<unknown>>).put
  try {
    g.fail('Key cannot be null or undefined', 'LEVEL_INVALID_KEY')
    await assert.rejects(put(null, 1), { code: 'LEVEL_INVALID_KEY' })
    assert.equal(other.failed, undefined, 'a bad key is not a storage failure')
  } finally {
    await other.close()
  }
})
