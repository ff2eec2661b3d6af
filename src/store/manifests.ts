import fs from 'node:fs/promises'
import path from 'node:path'
import type { DataDirLayout } from '../datadir.js'
import type { BatchOp, TroveDb } from '../db.js'
import type { PartialState } from '../db/schema.js'
import { InvalidArgumentError } from '../errors.js'
import { isSha1Hex } from '../uri.js'
import type { BlobStore, PutResult } from './blob-store.js'

/**
 * Chunk manifests and the downloads that use them: the manifest format, the `manifests` index
 * (blob -> its manifest) and the state of interrupted chunked downloads (`partials` and the
 * files under `partial/`). Nothing else reads or writes those two sublevels.
 */

export const MANIFEST_TYPE = 'trove/manifest'

/**
 * The chunk list of a large blob, itself stored as a (JSON) blob so it can be fetched and
 * verified like any other. Chunk hashes are plain hex, not sha1:// URIs: chunks are byte ranges
 * of the blob, not blobs of their own.
 */
export interface Manifest {
  type: typeof MANIFEST_TYPE
  version: 1
  sha1: string
  size: number
  chunkSize: number
  chunks: string[]
}

export function makeManifest (sha1: string, size: number, chunkSize: number, chunks: string[]): Manifest {
  return { type: MANIFEST_TYPE, version: 1, sha1, size, chunkSize, chunks }
}

export function encodeManifest (m: Manifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(m))
}

/** Parses and checks a manifest from a peer: it must describe exactly the blob we asked for. */
export function parseManifest (bytes: Uint8Array, expect: { sha1: string, size?: number }): Manifest {
  let m: Manifest
  try {
    m = JSON.parse(new TextDecoder().decode(bytes)) as Manifest
  } catch {
    throw new InvalidArgumentError('manifest is not JSON')
  }
  const fail = (why: string): never => { throw new InvalidArgumentError(`invalid manifest for ${expect.sha1}: ${why}`) }
  if (m === null || typeof m !== 'object' || m.type !== MANIFEST_TYPE || m.version !== 1) fail('wrong type or version')
  if (m.sha1 !== expect.sha1) fail('describes another blob')
  if (!Number.isSafeInteger(m.size) || m.size < 0) fail('bad size')
  if (expect.size !== undefined && m.size !== expect.size) fail(`size ${m.size} differs from the provider's ${expect.size}`)
  if (!Number.isSafeInteger(m.chunkSize) || m.chunkSize < 1024) fail('bad chunk size')
  if (!Array.isArray(m.chunks) || m.chunks.length !== Math.ceil(m.size / m.chunkSize)) fail('chunk count does not match size')
  if (!m.chunks.every((c) => typeof c === 'string' && isSha1Hex(c))) fail('chunk hash is not sha1 hex')
  return m
}

/** Byte range of chunk `i`. */
export function chunkRange (m: Manifest, i: number): { offset: number, length: number } {
  const offset = i * m.chunkSize
  return { offset, length: Math.min(m.chunkSize, m.size - offset) }
}

/** Which chunks of an interrupted download were verified, against which manifest (the `partials` table). */
export type { PartialState } from '../db/schema.js'

export interface ManifestIndexComponents {
  db: Pick<TroveDb, 'batch' | 'manifests' | 'partials'>
  store: Pick<BlobStore, 'putBytes'>
  layout: Pick<DataDirLayout, 'partial'>
}

export interface ManifestIndexInit {
  /** Chunk size of the manifests made at add time (the put must have hashed chunks of this size). */
  chunkSize: number
  /** Blobs larger than this get a manifest at add time. */
  threshold: number
}

/**
 * Owner of the `manifests` sublevel (blob sha1 -> sha1 of its chunk manifest) and, through
 * `partials`, of resume state. A manifest is recorded when a large blob is added
 * (`recordFor`) or fetched in chunks (`recordFetched`); the have protocol reads it back.
 */
export class ManifestIndex {
  readonly partials: PartialDownloads

  constructor (private readonly components: ManifestIndexComponents, private readonly init: ManifestIndexInit) {
    this.partials = new PartialDownloads(components)
  }

  /**
   * A large blob gets a chunk manifest (itself a blob) so peers can fetch it in verified chunks
   * from several providers at once. The chunk hashes were computed during ingest.
   */
  async recordFor (result: PutResult): Promise<PutResult> {
    if (result.size <= this.init.threshold || result.chunks === undefined) return result
    if (await this.get(result.sha1) !== undefined) return result
    const m = await this.components.store.putBytes(encodeManifest(makeManifest(result.sha1, result.size, this.init.chunkSize, result.chunks)))
    await this.components.db.manifests.put(result.sha1, m.sha1)
    return result
  }

  /**
   * A chunked download is complete and adopted into the store: its manifest is recorded and its
   * resume state dropped in one batch.
   */
  async recordFetched (sha1: string, manifestSha1: string): Promise<void> {
    const { db } = this.components
    const ops: BatchOp[] = [
      { type: 'put', sublevel: db.manifests, key: sha1, value: manifestSha1 },
      { type: 'del', sublevel: db.partials, key: sha1 }
    ]
    await db.batch(ops)
  }

  async get (sha1: string): Promise<string | undefined> {
    return await this.components.db.manifests.get(sha1)
  }

  /** Manifests of many blobs in one look-up, in order; undefined where a blob has none. */
  async getMany (sha1s: string[]): Promise<Array<string | undefined>> {
    if (sha1s.length === 0) return []
    return await this.components.db.manifests.getMany(sha1s)
  }
}

/**
 * Interrupted chunked downloads: the partial file `partial/<sha1>.part` and the record of which
 * chunks in it were verified (`partials`), so a later attempt resumes instead of starting over.
 */
export class PartialDownloads {
  constructor (private readonly components: Pick<ManifestIndexComponents, 'db' | 'layout'>) {}

  /** Path of the blob's partial file (its directory is made on first use). */
  async prepare (sha1: string): Promise<string> {
    await fs.mkdir(this.components.layout.partial, { recursive: true })
    return this.path(sha1)
  }

  path (sha1: string): string {
    return path.join(this.components.layout.partial, `${sha1}.part`)
  }

  async get (sha1: string): Promise<PartialState | undefined> {
    return await this.components.db.partials.get(sha1)
  }

  async save (sha1: string, state: PartialState): Promise<void> {
    await this.components.db.partials.put(sha1, state)
  }

  /** Forgets a download's progress and removes its file (its manifest was false). */
  async discard (sha1: string): Promise<void> {
    await this.components.db.partials.del(sha1)
    await fs.rm(this.path(sha1), { force: true })
  }
}
