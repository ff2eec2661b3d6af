import type { DataDirLayout } from '../datadir.js'
import type { BatchOp, TroveDb } from '../db.js'
import type { ComponentLogger } from '../logger.js'
import type { PackFilesInit, PackLocation } from './packs.js'
import type { SmallFileIo } from './small-io.js'

/**
 * The store's contract types: what callers give and get back (re-exported by blob-store.ts), and
 * what its parts (blob-index.ts, ingest.ts) hand each other.
 */

export interface BlobInfo {
  sha1: string
  size: number
  /** ms since epoch when the blob was first stored here. */
  addedAt: number
}

/** Where a blob's bytes are: a file of its own (ShardedPaths.pathOf), or a record of a pack. */
export type BlobPlace = 'file' | PackLocation

/**
 * A BlobInfo and where the blob's bytes were when it was looked up. Plain data: a copy reads as
 * well as the original. A compaction moves packed blobs, but their old pack file stays readable
 * for PACK_RETIRE_GRACE_MS, so a place read a moment ago still finds the bytes.
 */
export interface LocatedBlob extends BlobInfo {
  place: BlobPlace
}

/** A finished temp file to move into place, or the bytes of a small blob to append to a pack. */
export type CommitContent = { tmp: string } | { bytes: Uint8Array }

export interface DeleteBatchOptions {
  /** Runs inside the write queue, synchronously right before the batch: true keeps the blob. */
  keep?: (sha1: string) => boolean
  /** More operations for the same batch (the caller's own bookkeeping of the deletion). */
  extraOps?: (deleted: BlobInfo[]) => BatchOp[]
}

export interface DeleteBatchResult {
  deleted: BlobInfo[]
  errors: Array<{ sha1: string, error: string }>
}

/** What ingest takes of a put's options. */
export interface IngestOptions {
  signal?: AbortSignal
  /** Called with the bytes ingested so far. */
  onProgress?: (bytes: number) => void
  /** Refuse the content unless it hashes to this (data from peers is always re-hashed). */
  expectedSha1?: string
  /** Also hash the content in pieces of this size (for a chunk manifest), in the same pass. */
  chunkSize?: number
}

/**
 * Consulted by every ingest so that space management can make room or refuse the write
 * (StorageFullError) as its bytes arrive. The store knows nothing else of it.
 */
export interface WriteGuard {
  beginWrite: (options: { pinned: boolean }) => WriteTicket
}

export interface WriteTicket {
  /** Before the write grows to `total` bytes; may evict first, or throw StorageFullError. */
  grow: (total: number) => Promise<void> | undefined
  /** The write is over; `sha1` when content was stored (or found already stored). */
  end: (sha1?: string) => void
}

export interface PutResult {
  sha1: string
  size: number
  /** false when the blob was already stored (a repeated or concurrent write of the same content). */
  added: boolean
  /** sha1 of each `chunkSize` piece, when the put asked for them. */
  chunks?: string[]
}

export interface PutOptions extends IngestOptions {
  /** The content will be pinned: the space guard lets it past the hard limit. */
  pinned?: boolean
  /** The caller reserved space for this write already (a download): the guard does not count it again. */
  reserved?: boolean
}

export interface ReadOptions {
  /**
   * The caller's fresh stat of this blob: saves a second index look-up (the fetch responder has
   * one). A LocatedBlob (what stat answers, or a copy of it) is read where it says; a bare
   * BlobInfo is looked up again.
   */
  info?: LocatedBlob | BlobInfo
  offset?: number
  /** Bytes to read from offset; to the end when absent. */
  length?: number
  /**
   * Not a use of the blob (space management looking inside): read listeners are not told and no
   * lease is taken (the read may then fail with BlobNotFoundError if the blob goes meanwhile).
   */
  quiet?: boolean
}

/** Where a blob's bytes are, as a path: its own file, or a range of a pack file. */
export interface BlobLocation {
  path: string
  /** Offset of the blob's first byte in `path`. */
  offset: number
  size: number
  packed: boolean
}

/**
 * Told of each blob stored here anew. `head`: its first ADDED_HEAD_BYTES (or fewer: the whole
 * blob) when it was stored from memory, so space management can sniff it for JSON links without
 * opening it again.
 */
export type BlobListener = (info: BlobInfo, head?: Uint8Array) => void

export interface BlobStoreComponents {
  db: TroveDb
  layout: DataDirLayout
  logger?: ComponentLogger
}

export interface BlobStoreInit {
  ioChunkSize?: number
  /** fsync blobs and their folders before they count as stored. Off only for throwaway stores. */
  durable?: boolean
  /** Pack file settings (packs.ts); durability follows `durable`. */
  packs?: Omit<PackFilesInit, 'durable'>
  /** Small-file operations; default: the process's shared worker (tests and benches inject their own). */
  io?: SmallFileIo
}
