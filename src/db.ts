import fs from 'node:fs/promises'
import { Level } from 'level'
import { META_SCHEMA, type KeyRange } from './db/keys.js'
import { WriteObservers, type BatchOptions, type WriteObserver } from './db/observers.js'
import { SUBLEVEL_NAMES, type BatchOp, type Root, type Sublevel, type Sublevels, type TableName, type Tables } from './db/schema.js'
import { WriteGuard } from './db/write-guard.js'
import { DataDirLockedError, SchemaVersionError } from './errors.js'
import { defaultLogger, type ComponentLogger } from './logger.js'

export type { BatchOptions, ObservedBatch, WriteObserver } from './db/observers.js'
export type { BatchOp, ObservedOp, PartialState, Sublevel, TableName, Tables } from './db/schema.js'

/** Bump when the key layout changes; opening a store of another version is refused, not guessed at. */
export const SCHEMA_VERSION = 1
/** Entries per native call when a table is scanned (scan). */
const SCAN_BLOCK = 1000

/**
 * The one LevelDB of a data directory, split into the tables of db/schema.ts. Every part that must
 * change atomically with another (blob index and byte counters, refs and their edges) writes
 * through `db.batch()` with operations on several tables.
 */
export interface TroveDb extends Sublevels {
  level: Root
  /** Writes `ops` atomically (see BatchOptions for how observers see it). */
  batch: (ops: BatchOp[], options?: BatchOptions) => Promise<void>
  /**
   * Makes `observer` see every later write to its tables, until the function it returns is called
   * (space management follows the refs and the store this way, see src/space/watch.ts).
   */
  observe: (observer: WriteObserver) => () => void
  /** Set while writes are refused after the database failed one (see db/write-guard.ts). */
  writeFailure: () => Error | undefined
  close: () => Promise<void>
}

/** Reads a range of a table in blocks of `size` entries: one native call per block, not per entry. */
export async function * scan<N extends TableName> (sub: Sublevel<N>, range: KeyRange = {}, size = SCAN_BLOCK): AsyncGenerator<Array<[string, Tables[N]]>> {
  const it = sub.iterator(range)
  try {
    for (;;) {
      const block = await it.nextv(size)
      if (block.length === 0) return
      yield block
    }
  } finally {
    await it.close()
  }
}

export interface OwnerInfo {
  pid: number
  command: string
  startedAt: string
}

export interface OpenDbOptions {
  /** What the owning process is doing, shown to another process that finds the directory locked. */
  command?: string
  /** Where a failed write and the recovery from it are reported. */
  logger?: ComponentLogger
}

export async function openDb (dbPath: string, ownerFile: string, options: OpenDbOptions = {}): Promise<TroveDb> {
  const level: Root = new Level<string, unknown>(dbPath, { valueEncoding: 'json' })
  try {
    await level.open()
  } catch (err) {
    if (isLocked(err)) {
      const owner = await readOwner(ownerFile)
      const who = owner !== undefined ? `process ${owner.pid} (${owner.command}, since ${owner.startedAt})` : 'another process'
      throw new DataDirLockedError(`data directory is in use by ${who}: ${dbPath}`, { cause: err })
    }
    throw err
  }
  const sublevels = Object.fromEntries(Object.entries(SUBLEVEL_NAMES).map(([table, name]) => [table, level.sublevel(name, { valueEncoding: 'json' })])) as unknown as Sublevels
  // installed before the observers bind the root's batch: every write passes it
  const guard = new WriteGuard({ db: { level, sublevels: Object.values(sublevels), path: dbPath }, log: (options.logger ?? defaultLogger()).forComponent('db') })
  const observers = new WriteObservers(level, sublevels, SUBLEVEL_NAMES)
  const db: TroveDb = {
    ...sublevels,
    level,
    batch: async (ops, options) => observers.batch(ops, options),
    observe: (observer) => observers.observe(observer),
    writeFailure: () => guard.failed,
    close: async () => {
      await guard.close()
      await fs.rm(ownerFile, { force: true })
      await level.close()
    }
  }
  try {
    await checkSchema(db)
  } catch (err) {
    await level.close()
    throw err
  }
  const owner: OwnerInfo = { pid: process.pid, command: options.command ?? 'trove', startedAt: new Date().toISOString() }
  await fs.writeFile(ownerFile, JSON.stringify(owner) + '\n')
  return db
}

async function checkSchema (db: TroveDb): Promise<void> {
  const version = await db.meta.get(META_SCHEMA) as number | undefined
  if (version === undefined) {
    await db.meta.put(META_SCHEMA, SCHEMA_VERSION)
    return
  }
  if (version !== SCHEMA_VERSION) {
    throw new SchemaVersionError(`data directory has schema version ${String(version)}, this Trove understands version ${SCHEMA_VERSION}`)
  }
}

function isLocked (err: unknown): boolean {
  const e = err as { code?: string, cause?: { code?: string } }
  return e?.code === 'LEVEL_LOCKED' || e?.cause?.code === 'LEVEL_LOCKED'
}

async function readOwner (ownerFile: string): Promise<OwnerInfo | undefined> {
  try {
    return JSON.parse(await fs.readFile(ownerFile, 'utf8')) as OwnerInfo
  } catch {
    return undefined
  }
}
