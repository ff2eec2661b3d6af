import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { DataDirLayout } from '../datadir.js'
import type { BlobEntry, Usage } from '../db/schema.js'
import type { BlobIndex } from './blob-index.js'
import { IO_CHUNK_SIZE, PACK_HEADER_BYTES } from './constants.js'
import type { Leases } from './leases.js'
import type { PackFiles } from './packs.js'
import type { ShardedPaths } from './paths.js'
import type { LocatedBlob } from './types.js'

export interface VerifyReport {
  /** Blobs re-hashed (files and pack records). */
  checked: number
  bytes: number
  /** Blobs whose bytes do not hash to their name, moved (a pack record: copied) to quarantine/. */
  corrupt: Array<{ sha1: string, actual: string, quarantinedAs: string }>
  /** Index entries whose file or pack record is gone; removed from the index. */
  missing: string[]
  /** Files present without an index entry (e.g. a crash between rename and index); indexed now. */
  adopted: string[]
  /** Files in the blob folders that are not named like a blob; moved to quarantine/. */
  strays: string[]
  /**
   * Pack files whose records could not all be walked (a damaged length field, a file cut short or
   * gone): each blob the index placed in one was read from where the index says, moved to another
   * pack if intact (else reported corrupt or missing), and the pack dropped.
   */
  damagedPacks: number[]
  /** Counters before and after reconciling with what is really there. */
  usageBefore: Usage
  usageAfter: Usage
  ok: boolean
}

export interface VerifyOptions {
  signal?: AbortSignal
  onProgress?: (progress: { checked: number, total: number }) => void
}

/** What verify takes of the store: its parts, each through the narrow face verify needs. */
export interface VerifyComponents {
  layout: Pick<DataDirLayout, 'root' | 'quarantine'>
  paths: Pick<ShardedPaths, 'root' | 'pathOf' | 'decode' | 'list'>
  index: Pick<BlobIndex, 'getUsage' | 'statMany' | 'repair'>
  /** Read only: walked outside the index lock; changed only through the index's repair. */
  packs: Pick<PackFiles, 'list' | 'records'>
  leases: Pick<Leases, 'isLeased'>
}

/**
 * Re-hashes every blob file and pack record, quarantines any whose bytes do not match its name,
 * and reconciles the index, the byte counters and the packs' live counts with what is there. This
 * is the one operation that crawls the blob folders; everything else reads the counters.
 */
export async function verifyStore (components: VerifyComponents, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { layout, paths, index, packs: packFiles, leases } = components
  const files = await paths.list()
  const report: VerifyReport = {
    checked: 0,
    bytes: 0,
    corrupt: [],
    missing: [],
    adopted: [],
    strays: [],
    damagedPacks: [],
    usageBefore: index.getUsage(),
    usageAfter: index.getUsage(),
    ok: true
  }
  const seen = new Set<string>()
  // files (less strays) plus packed blobs: the index's count is the best guess before the crawl
  const total = Math.max(files.length, report.usageBefore.blobs)
  for (const file of files) {
    options.signal?.throwIfAborted()
    const name = paths.decode(file)
    if (name === undefined) {
      report.strays.push(path.relative(paths.root, file))
      await quarantine(layout, file, `stray-${path.basename(file)}`)
      continue
    }
    if (leases.isLeased(name)) {
      // being written or read right now; its hash was checked on the way in
      seen.add(name)
      continue
    }
    const hashed = await hashFile(file)
    // deleted since the folders were listed: the index pass below sorts out whether that was a delete or a loss
    if (hashed === undefined) continue
    const { sha1: actual, size } = hashed
    report.checked++
    report.bytes += size
    options.onProgress?.({ checked: report.checked, total })
    if (actual !== name) {
      const quarantinedAs = await quarantine(layout, file, name)
      report.corrupt.push({ sha1: name, actual, quarantinedAs })
      continue
    }
    seen.add(name)
  }
  const packs = await checkPacks(packFiles, index, layout, report, options, total)

  await index.repair(async (repair) => {
    let bytes = 0
    let blobs = 0
    const indexed = new Set<string>()
    // read under the index lock, so writes that finished during the crawl do not count as a discrepancy
    report.usageBefore = repair.usage()
    const liveByPack = new Map<number, number>()
    const addLive = (pack: number, size: number): void => { liveByPack.set(pack, (liveByPack.get(pack) ?? 0) + PACK_HEADER_BYTES + size) }
    // the walk found it intact where the index says, or it was stored past where the walk read
    // (appended, or moved there by a compaction, since) in a pack the walk found sound
    const walkDamaged = new Set(packs.damaged)
    const vouched = (entry: BlobEntry): boolean => packs.intact.has(`${entry.pack ?? -1}:${entry.at ?? -1}`) ||
      ((entry.at ?? 0) >= (packs.walkedEnd.get(entry.pack ?? -1) ?? 0) && !walkDamaged.has(entry.pack ?? -1))
    for await (const [sha1, entry] of repair.entries()) {
      indexed.add(sha1)
      if (entry.pack !== undefined && entry.at !== undefined) {
        if (packs.corrupt.has(`${entry.pack}:${entry.at}`)) {
          repair.unindex(sha1)
        } else if (vouched(entry)) {
          bytes += entry.size
          blobs++
          addLive(entry.pack, entry.size)
          // a loose copy too (a removal that failed before the blob was stored again, packed):
          // the index names the pack, so the file is only space
          if (seen.has(sha1)) await fs.rm(paths.pathOf(sha1), { force: true })
        } else {
          // the walk did not find it where the index says: a damaged pack, evacuated below
          packs.damaged.add(entry.pack)
        }
        continue
      }
      if (!seen.has(sha1)) {
        if (await exists(paths.pathOf(sha1))) {
          // stored after the crawl listed the folders (or stored again after its corrupt copy was
          // quarantined); its hash was checked on the way in
          bytes += entry.size
          blobs++
          continue
        }
        if (!report.corrupt.some((c) => c.sha1 === sha1)) report.missing.push(sha1)
        repair.unindex(sha1)
        continue
      }
      const stat = await fs.stat(paths.pathOf(sha1)).catch(() => undefined)
      const size = stat?.size ?? entry.size
      if (size !== entry.size) repair.reindex(sha1, { ...entry, size })
      bytes += size
      blobs++
    }
    if (packs.damaged.size > 0) {
      // a second pass over the index for the damaged packs' blobs (rare: only when damage was found)
      const items = new Map<number, Array<{ sha1: string, entry: BlobEntry }>>()
      for (const id of packs.damaged) items.set(id, [])
      for await (const [sha1, entry] of repair.entries()) {
        if (entry.pack === undefined || !packs.damaged.has(entry.pack) || packs.corrupt.has(`${entry.pack}:${entry.at ?? -1}`)) continue
        items.get(entry.pack)?.push({ sha1, entry })
      }
      for (const [id, list] of items) {
        report.damagedPacks.push(id)
        const counted = new Map(list.filter((i) => vouched(i.entry)).map((i) => [i.sha1, i.entry.size]))
        const lost = (sha1: string): void => {
          repair.unindex(sha1)
          const size = counted.get(sha1)
          if (size === undefined) return
          bytes -= size
          blobs--
        }
        const result = await repair.evacuate(id, list)
        // blobs the walk did not vouch for were hashed by the evacuation: they count as checked
        const hashedNow = (sha1: string, size: number): void => {
          if (counted.has(sha1)) return
          report.checked++
          report.bytes += size
        }
        for (const m of result.moved) {
          addLive(m.to.pack, m.size)
          hashedNow(m.sha1, m.size)
          if (counted.has(m.sha1)) continue
          bytes += m.size
          blobs++
        }
        for (const c of result.corrupt) {
          hashedNow(c.sha1, c.bytes.length)
          const quarantinedAs = await quarantineBytes(layout, c.sha1, c.bytes)
          report.corrupt.push({ sha1: c.sha1, actual: c.actual, quarantinedAs })
          lost(c.sha1)
        }
        for (const sha1 of result.missing) {
          report.missing.push(sha1)
          lost(sha1)
        }
      }
    }
    repair.reconcilePacks(liveByPack)
    for (const sha1 of seen) {
      if (indexed.has(sha1)) continue
      const stat = await fs.stat(paths.pathOf(sha1)).catch(() => undefined)
      if (stat === undefined) continue
      report.adopted.push(sha1)
      repair.reindex(sha1, { size: stat.size, addedAt: stat.mtimeMs })
      bytes += stat.size
      blobs++
    }
    const usage = { bytes, blobs }
    repair.setUsage(usage)
    report.usageAfter = usage
  })
  report.ok = report.corrupt.length === 0 && report.missing.length === 0 && report.strays.length === 0 && report.damagedPacks.length === 0 &&
    report.usageBefore.bytes === report.usageAfter.bytes && report.usageBefore.blobs === report.usageAfter.blobs
  return report
}

interface PackCheck {
  /** `<pack>:<at>` of records that hash to their header's sha1 and are what the index points at. */
  intact: Set<string>
  /** `<pack>:<at>` of records the index points at whose bytes do not hash to the blob's sha1. */
  corrupt: Set<string>
  /** How far each pack was read: records past it were appended after the walk. */
  walkedEnd: Map<number, number>
  /**
   * Packs whose walk stopped at a record running past the end (or found no file, or a record
   * whose length is not its blob's); the index pass adds those where it finds a blob the walk did
   * not. Their blobs are read from where the index says and moved out, and the pack dropped.
   */
  damaged: Set<number>
}

/**
 * Walks every pack record by record and re-hashes each. Corrupt records the index points at are
 * copied to quarantine/ (the pack itself is left alone: its other records may be fine); the
 * index pass then drops their entries.
 */
async function checkPacks (packs: VerifyComponents['packs'], index: VerifyComponents['index'], layout: VerifyComponents['layout'], report: VerifyReport, options: VerifyOptions, total: number): Promise<PackCheck> {
  const check: PackCheck = { intact: new Set(), corrupt: new Set(), walkedEnd: new Map(), damaged: new Set() }
  for (const [id, state] of packs.list()) {
    options.signal?.throwIfAborted()
    const walk: { damagedAt?: number } = {}
    const records = []
    try {
      for await (const r of packs.records(id, { withData: true, walk })) {
        records.push({ sha1: r.sha1, at: r.at, size: r.size, actual: createHash('sha1').update(r.data as Buffer).digest('hex'), data: undefined as Buffer | undefined })
        // keep the bytes only of records that may need quarantining: the walk's buffer is reused
        const last = records[records.length - 1]
        if (last.actual !== last.sha1) last.data = Buffer.from(r.data as Buffer)
      }
    } catch (err) {
      // a pack file gone (a compaction retired it meanwhile, or lost): its entries are sorted out below
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      check.damaged.add(id)
      check.walkedEnd.set(id, state.size)
      continue
    }
    if (walk.damagedAt !== undefined) check.damaged.add(id)
    check.walkedEnd.set(id, state.size)
    const entries = await index.statMany(records.map((r) => r.sha1))
    for (const [i, r] of records.entries()) {
      const entry = entries[i]
      const place = entry?.place
      const pointed = place !== undefined && place !== 'file' && place.pack === id && place.at === r.at
      const where = `${id}:${r.at}`
      // a record the index does not point at is a deleted blob's dead space (a restart cuts off
      // appends that were never indexed), so it is not adopted as files are
      if (!pointed) continue
      if ((entry as LocatedBlob).size !== r.size) {
        // a damaged length field: the bytes are judged by the index's length when evacuated
        check.damaged.add(id)
        continue
      }
      // counted whether intact or not, as files are
      report.checked++
      report.bytes += r.size
      options.onProgress?.({ checked: report.checked, total: Math.max(total, report.checked) })
      if (r.actual !== r.sha1) {
        const quarantinedAs = await quarantineBytes(layout, r.sha1, r.data as Buffer)
        report.corrupt.push({ sha1: r.sha1, actual: r.actual, quarantinedAs })
        check.corrupt.add(where)
        continue
      }
      check.intact.add(where)
    }
  }
  return check
}

/** A corrupt pack record's bytes, copied to quarantine/ (the pack keeps its other records). */
async function quarantineBytes (layout: VerifyComponents['layout'], name: string, bytes: Buffer): Promise<string> {
  const dest = await quarantinePath(layout, name)
  await fs.writeFile(dest, bytes, { flag: 'wx' })
  return path.relative(layout.root, dest)
}

/** undefined when the file no longer exists. */
async function hashFile (file: string): Promise<{ sha1: string, size: number } | undefined> {
  const hash = createHash('sha1')
  let size = 0
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: IO_CHUNK_SIZE })) {
      hash.update(chunk as Buffer)
      size += (chunk as Buffer).length
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  return { sha1: hash.digest('hex'), size }
}

async function exists (file: string): Promise<boolean> {
  return fs.stat(file).then(() => true, () => false)
}

async function quarantine (layout: VerifyComponents['layout'], file: string, name: string): Promise<string> {
  const dest = await quarantinePath(layout, name)
  await fs.rename(file, dest)
  return path.relative(layout.root, dest)
}

async function quarantinePath (layout: VerifyComponents['layout'], name: string): Promise<string> {
  await fs.mkdir(layout.quarantine, { recursive: true })
  // the random part keeps two strays of the same name (from different shards, same millisecond) apart
  return path.join(layout.quarantine, `${name}.${Date.now()}.${randomBytes(4).toString('hex')}`)
}
