import type { Level } from 'level'

/**
 * The schema of a data directory's LevelDB: every table (sublevel), its name on disk and the type
 * of its values. Key layouts are in keys.ts. Each table has one owner that writes it; other layers
 * read it through the owner's API. Bump SCHEMA_VERSION (db.ts) when a name, a key layout or a value
 * shape changes.
 *
 * | table | owner | key | value |
 * | --- | --- | --- | --- |
 * | meta | db, store | `schema`, `usage` | number, Usage |
 * | blobs | store | sha1 | BlobEntry |
 * | packs | store (packs.ts) | pack number | PackState |
 * | manifests | node, transfer | blob sha1 | sha1 of its chunk manifest |
 * | partials | transfer | blob sha1 | PartialState |
 * | refs | refs | ref key | StoredRef |
 * | versions | refs | versionKey | StoredVersion |
 * | edges | refs | edgeKey | EdgeValue |
 * | pins | refs | sha1 | PinValue |
 * | expiry | refs | expiryKey | '' |
 * | access | refs | ref key | last read (ms) |
 * | space* | space | see keys.ts | BlobState, EvictValue, ... |
 */

/** A blob index entry; `pack` and `at` only for packed blobs. */
export interface BlobEntry {
  size: number
  addedAt: number
  pack?: number
  at?: number
}

/** What the index keeps per pack: bytes written (the file's committed length) and bytes still live. */
export interface PackState {
  size: number
  live: number
}

/** The blob counters, changed in the same batch as the blob index. */
export interface Usage {
  bytes: number
  blobs: number
}

/** An interrupted chunked download, kept so that it resumes where it stopped. */
export interface PartialState {
  size: number
  manifest: string
  done: number[]
}

/**
 * A ref's metadata. The fields below steer space management; anything else is the user's and is
 * kept exactly as given.
 */
export interface RefMeta {
  /** Higher survives longer under eviction. Integer, default 0. */
  priority?: number
  /** Blobs held by a pinned ref are never evicted. */
  pin?: boolean
  /** ISO time after which the ref is removed by the expiry sweep. */
  expires?: string
  /** Duration (`7d`) since the ref was last read after which it is removed. */
  ttl?: string
  [field: string]: unknown
}

/** The current version of a ref. */
export interface StoredRef {
  version: number
  obj: unknown
  meta: RefMeta
  setAt: string
  by?: string
  /** Blobs this version references; kept so the next set knows which edges to drop. */
  hashes: string[]
  expiresMs?: number
}

/** One entry of a ref's history (its key is in the table's key). */
export interface StoredVersion {
  version: number
  obj: unknown
  meta: RefMeta
  /** ISO time of this version. */
  setAt: string
  /** Who wrote this version (user@host, or the API client). */
  by?: string
  /** true for the version that records a removal. */
  deleted?: boolean
}

/** What an edge blob -> ref carries, so "what holds this blob, and how strongly" needs no ref reads. */
export interface EdgeValue {
  priority: number
  pin: boolean
}

/** A ref that holds a blob: its key and its edge. */
export interface Holder extends EdgeValue {
  key: string
}

export interface PinValue {
  pinnedAt: string
  by?: string
}

/** Hold class: 'p' never evicted (pinned, pinned ref, reachable from either), 'r' held by refs, 'u' unheld. */
export type HoldCode = 'p' | 'r' | 'u'

/**
 * What the space index records per local blob. Derived from the edges, pins and links (never the
 * other way round), so it can always be rebuilt from them.
 */
export interface BlobState {
  c: HoldCode
  /** Strongest priority among the refs that hold it (class 'r'). */
  p?: number
  /** Largest minCopies asked by a ref that holds it. */
  m?: number
  /** Size in bytes. */
  s: number
  /** When it was stored here (ms). */
  t: number
  /** Last use (ms): store, read or serve. */
  a: number
  /** Its key in the eviction index (absent for class 'p'). */
  k?: string
}

/** What an entry of the eviction index carries, so planning reads nothing else. */
export interface EvictValue {
  s: number
  t: number
  m?: number
}

export interface ClassTotals {
  protected: { blobs: number, bytes: number }
  referenced: { blobs: number, bytes: number }
  unreferenced: { blobs: number, bytes: number }
}

/** Every table and the type of its values. */
export interface Tables {
  /** `schema` -> SCHEMA_VERSION, `usage` -> Usage. */
  meta: number | Usage
  blobs: BlobEntry
  refs: StoredRef
  versions: StoredVersion
  edges: EdgeValue
  pins: PinValue
  /** Refs by expiry time; the key says it all. */
  expiry: ''
  /** Ref key -> its last read (ms), for refs with a ttl. */
  access: number
  /** Pack number -> committed length and live bytes of that pack file (src/store/packs.ts). */
  packs: PackState
  /** Blob sha1 -> sha1 of its chunk manifest (large blobs only). */
  manifests: string
  /** Blob sha1 -> state of an interrupted chunked download, for resume. */
  partials: PartialState
  /** Space management (src/space): per-blob hold state. */
  spaceState: BlobState
  /** The eviction index: evictKey -> what planning needs. */
  spaceEvict: EvictValue
  /** Pending reclassifications: a group record lists its blobs; a legacy per-blob record holds its seq. */
  spaceDirty: string[] | number
  /** JSON blob -> blobs it references (linkKey), and the reverse. */
  spaceLinks: 1
  spaceLinkedBy: 1
  /**
   * `totals` -> ClassTotals, `version` -> INDEX_VERSION, `runs` -> RunSummary[] (space/report.ts),
   * minCopiesKey -> number, intentsKey -> sha1s, a legacy intent key -> 1.
   */
  spaceMeta: ClassTotals | number | unknown[]
}

export type TableName = keyof Tables

/** Each table's sublevel name on disk. Fixed: a renamed table would open empty. */
export const SUBLEVEL_NAMES: { readonly [N in TableName]: string } = {
  meta: 'meta',
  blobs: 'blobs',
  refs: 'refs',
  versions: 'versions',
  edges: 'edges',
  pins: 'pins',
  expiry: 'expiry',
  access: 'access',
  packs: 'packs',
  manifests: 'manifests',
  partials: 'partials',
  spaceState: 'space-state',
  spaceEvict: 'space-evict',
  spaceDirty: 'space-dirty',
  spaceLinks: 'space-links',
  spaceLinkedBy: 'space-linked-by',
  spaceMeta: 'space-meta'
}

/** The root database; values are JSON in every table. */
export type Root = Level<string, unknown>
declare const root: Root
declare const TABLE: unique symbol

/**
 * The sublevel of table `N`. The phantom `TABLE` property (never present at run time) keeps tables
 * with compatible value types apart, so a BatchOp cannot pair one table's sublevel with another's value.
 */
export type Sublevel<N extends TableName> = ReturnType<typeof root.sublevel<string, Tables[N]>> & { readonly [TABLE]?: N }

export type Sublevels = { readonly [N in TableName]: Sublevel<N> }

interface OpFlags {
  /**
   * The write does not change what holds a blob (pack bookkeeping, a compaction moving a blob, the
   * space index's own records): it is no reason to reclassify anything, nor a writer to make way for.
   */
  holdsUnchanged?: boolean
}

/** An operation of an atomic batch, on one table, with that table's value type. */
export type BatchOp = {
  [N in TableName]: (OpFlags & { type: 'put', sublevel: Sublevel<N>, key: string, value: Tables[N] }) |
  (OpFlags & { type: 'del', sublevel: Sublevel<N>, key: string })
}[TableName]

/** A batch operation as a write observer sees it: the table by name, the value decoded. */
export type ObservedOp = {
  [N in TableName]: (OpFlags & { table: N, type: 'put', key: string, value: Tables[N] }) |
  (OpFlags & { table: N, type: 'del', key: string })
}[TableName]
