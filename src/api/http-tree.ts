import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { MAX_DIR_MANIFEST_BYTES } from '../dirs/constants.js'
import type { TreeWriter } from '../dirs/get-dir.js'
import { resolveDirPath } from '../dirs/resolve.js'
import { parseDirUri } from '../dirs/uri.js'
import { HashMismatchError, InvalidDirManifestError } from '../errors.js'
import type { FetchDirOptions, FetchDirResult, TroveOps } from '../ops.js'
import type { HttpAnswer } from './http-request.js'

/** Files fetched over HTTP and written at once: a few requests in flight hide each one's round trip. */
const HTTP_WRITE_CONCURRENCY = 8

export interface HttpTreeComponents {
  /** `GET /blobs/{sha1}`: the stored blob's bytes (the node fetched the tree already). */
  readBlob: (sha1: string, signal?: AbortSignal) => Promise<HttpAnswer>
  /** The node makes the whole tree local (`POST /dirs/{sha1}/fetch`, no dest). */
  fetchDir: (uri: string, options: FetchDirOptions) => Promise<FetchDirResult>
  fetchMany: TroveOps['fetchMany']
  blobInfo: TroveOps['blobInfo']
}

/**
 * Writing a tree in this process from bytes read over the node's API: what `trove get` falls back
 * to when the node cannot write where this process can (another user, another mount namespace).
 * The node fetches and checks the tree (`fetchTree` is the node's); each file is then read with
 * `GET /blobs/{sha1}`, re-hashed on the way to disk, and written by `getDir` as locally.
 */
export function httpTree (c: HttpTreeComponents): TreeWriter {
  const readManifest = async (sha1: string, options: { signal?: AbortSignal }): Promise<Uint8Array> => {
    const res = await c.readBlob(sha1, options.signal)
    if (Number(res.headers.get('content-length')) > MAX_DIR_MANIFEST_BYTES) {
      res.cancel()
      throw new InvalidDirManifestError(`sha1dir://${sha1} is not a directory manifest: more than ${MAX_DIR_MANIFEST_BYTES} bytes`)
    }
    const chunks: Buffer[] = []
    for await (const chunk of res.body) chunks.push(chunk as Buffer)
    return new Uint8Array(Buffer.concat(chunks))
  }
  return {
    readManifest,
    fetchMany: async (sha1s, options) => c.fetchMany(sha1s, options),
    sizesOf: async (sha1s) => Promise.all(sha1s.map(async (s) => {
      const info = await c.blobInfo(s)
      return info.local ? info.size : undefined
    })),
    fetchTree: async (uri, options) => {
      const result = await c.fetchDir(uri, options)
      const resolved = await resolveDirPath({ readManifest }, parseDirUri(uri), options)
      return { uri: result.uri, resolved, result, release: () => {} }
    },
    writeFiles: async (files, options) => {
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < files.length) {
          const { sha1, size, file, exec } = files[next++]
          options.signal?.throwIfAborted()
          const res = await c.readBlob(sha1, options.signal)
          const hash = createHash('sha1')
          let bytes = 0
          await pipeline(res.body, async function * (source: AsyncIterable<Uint8Array>) {
            for await (const chunk of source) {
              hash.update(chunk)
              bytes += chunk.byteLength
              yield chunk
            }
          }, createWriteStream(file, { flags: 'wx', mode: 0o644 }))
          const got = hash.digest('hex')
          if (got !== sha1 || bytes !== size) throw new HashMismatchError(`sha1://${sha1} came from the node as ${bytes} bytes hashing to ${got}; the directory lists ${size} bytes`)
          if (exec) await fs.chmod(file, 0o755)
          options.onWritten(size)
        }
      }
      await Promise.all(Array.from({ length: Math.min(HTTP_WRITE_CONCURRENCY, files.length) }, worker))
    }
  }
}
