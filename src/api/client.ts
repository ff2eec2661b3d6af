import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FileNotFoundError, InvalidArgumentError, RangeNotSatisfiableError, TroveError, isError } from '../errors.js'
import { assertRefTakesFiles, defaultAuthor, refEntryNames, refObjFor, type AddDirOptions, type AddDirResult, type AddOptions, type BlobInfoOptions, type BlobInfoReport, type AddResult, type AddStreamOptions, type ExportOptions, type ExportResult, type CatOptions, type DirListing, type Eviction, type FetchDirOptions, type FetchDirResult, type GetDirOptions, type GetDirResult, type ListDirOptions, type FetchedBlob, type FetchManyResult, type FetchOptions, type GcReport, type PeerInfo, type ReadRange, type StatusReport, type TransferInfo, type TroveOps, type WhyReport } from '../ops.js'
import { assertKey } from '../refs/keys.js'
import type { RefMeta } from '../refs/meta.js'
import type { HistoryEntry, ListOptions, ListPage, PinRecord, RefRecord } from '../refs/ref-store.js'
import { resolveRange } from '../store/range.js'
import { IO_CHUNK_SIZE } from '../store/constants.js'
import type { VerifyReport } from '../store/verify.js'
import { toSha1 } from '../uri.js'
import { getDir } from '../dirs/get-dir.js'
import { isADirectory } from '../dirs/resolve.js'
import { httpTree } from './http-tree.js'
import { formatDirUri, isDirUri, parseDirUri } from '../dirs/uri.js'
import type { DirFetchLine } from './routes/dirs.js'
import { API_PREFIX, AUTHOR_HEADER, EVICTIONS_HEADER, NDJSON } from './constants.js'
import { ApiUnavailableError, errorFromBody } from './errors.js'
import { TransferFailedError } from '../transfer/errors.js'
import { decodeEvictions } from './evictions.js'
import { brokenOffMessage, http, httpRequest, type HttpAnswer } from './http-request.js'
import type { ImportLine } from './routes/import.js'
import type { DirImportLine } from './routes/dirs-import.js'
import { addLocalDir, dirResult } from '../dirs/add.js'
import type { ExportLine } from './routes/export.js'
import { writeFileAtomically } from '../fs-util.js'

export interface ApiClientComponents {
  /** Base URL of the node's API, e.g. http://127.0.0.1:4738. */
  url: string
  /** The data directory's API token; needed for anything that changes state. */
  token?: string
}

export interface ApiClientInit {
  /** Recorded as the author of writes (default: this process's user@host, as in embedded mode). */
  by?: string
}

interface RequestOptions {
  query?: Record<string, string | undefined>
  json?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
  by?: string
}

/**
 * TroveOps over the HTTP API of a running node. Errors come back as the same TroveError classes
 * (matched by `code`) the embedded node throws, so the CLI prints the same either way; inputs are
 * checked here first where the check is local, so a bad URI or key fails the same way without
 * a round trip.
 */
export class ApiClient implements TroveOps {
  readonly url: string
  private readonly token: string | undefined
  private readonly by: string

  constructor (components: ApiClientComponents, init: ApiClientInit = {}) {
    this.url = components.url.replace(/\/+$/, '')
    this.token = components.token
    this.by = init.by ?? defaultAuthor()
  }

  async addFile (file: string, options: AddOptions = {}): Promise<AddResult> {
    const [result] = await this.addFiles([file], options)
    return result
  }

  /**
   * The node reads the files itself (`POST /blobs/import`): the kernel copies them into its store
   * as in an embedded add, and its progress comes back as a stream of lines. When the node cannot
   * see or read a file this process can (another user, another mount namespace, a node without
   * the route), nothing was stored, and the bytes are sent over `POST /blobs` instead.
   */
  async addFiles (files: string[], options: AddOptions = {}): Promise<AddResult[]> {
    if (options.ref !== undefined) assertKey(options.ref)
    const res = await this.startImport(files.map((f) => path.resolve(f)), options)
    if (res !== undefined) return this.importAnswer(res, options)
    const { ref, refMeta, ...each } = options
    if (ref !== undefined) await assertRefTakesFiles(this, ref)
    const entries = ref !== undefined ? refEntryNames(files) : undefined
    const results: AddResult[] = []
    for (const [i, file] of files.entries()) {
      const r = await this.streamFile(file, { ...each, onProgress: (n) => options.onProgress?.(n, i) })
      if (entries !== undefined) r.entry = entries[i]
      results.push(r)
    }
    if (ref !== undefined) await this.mergeRef(ref, refObjFor(results), refMeta, { by: options.by })
    return results
  }

  /**
   * The node reads the directory itself (`POST /dirs/import`). When it cannot see or read it (as
   * for files: another user, another mount namespace, an older node), this process walks the
   * directory and sends each file and manifest over `POST /blobs`, then pins and records the root.
   */
  async addDir (dir: string, options: AddDirOptions = {}): Promise<AddDirResult> {
    if (options.ref !== undefined) assertKey(options.ref)
    const body: Record<string, unknown> = { path: path.resolve(dir) }
    if (options.pin === true) body.pin = true
    if (options.followSymlinks === true) body.followSymlinks = true
    if (options.ref !== undefined) body.ref = options.ref
    if (options.refMeta !== undefined) body.meta = options.refMeta
    let res: HttpAnswer | undefined
    try {
      res = await this.request('POST', '/dirs/import', { json: body, headers: { accept: NDJSON }, signal: options.signal, by: options.by })
    } catch (err) {
      if (!NODE_CANNOT_READ.has((err as { code?: string }).code ?? '')) throw err
    }
    if (res === undefined) return this.sendDir(dir, options)
    for await (const text of lines(res.body)) {
      const line = JSON.parse(text) as DirImportLine
      if ('progress' in line) options.onProgress?.(line.progress)
      else if ('result' in line) return line.result
      else throw errorFromBody(line, 500)
    }
    throw new ApiUnavailableError('the Trove node ended POST /dirs/import without an answer')
  }

  /** `addDir` walked here, each file and manifest sent over `POST /blobs`. */
  private async sendDir (dir: string, options: AddDirOptions): Promise<AddDirResult> {
    if (options.ref !== undefined) await assertRefTakesFiles(this, options.ref)
    const each = { signal: options.signal, by: options.by }
    const added = await addLocalDir({
      putBytes: async (bytes, o) => this.addStream([bytes], { ...each, signal: o.signal }),
      putFile: async (file, o) => this.addStream(createReadStream(file, { highWaterMark: IO_CHUNK_SIZE }), { ...each, signal: o.signal })
    }, dir, { followSymlinks: options.followSymlinks, signal: options.signal, onProgress: options.onProgress })
    const r = dirResult(dir, added)
    if (options.pin === true) await this.pin(added.sha1, { by: options.by })
    if (options.ref !== undefined) {
      r.entry = r.name
      await this.mergeRef(options.ref, refObjFor([r]), options.refMeta, { by: options.by })
    }
    return r
  }

  /** The import's answer stream, or undefined when the node cannot read the files (nothing was stored then). */
  private async startImport (paths: string[], options: AddOptions): Promise<HttpAnswer | undefined> {
    const body: Record<string, unknown> = { paths }
    if (options.pin === true) body.pin = true
    if (options.ref !== undefined) body.ref = options.ref
    if (options.refMeta !== undefined) body.meta = options.refMeta
    try {
      return await this.request('POST', '/blobs/import', { json: body, headers: { accept: NDJSON }, signal: options.signal, by: options.by })
    } catch (err) {
      // refused before the node read anything: every path is checked before the first is stored
      if (NODE_CANNOT_READ.has((err as { code?: string }).code ?? '')) return undefined
      throw err
    }
  }

  /** Progress lines, then the results or the error the node met while storing. */
  private async importAnswer (res: HttpAnswer, options: AddOptions): Promise<AddResult[]> {
    for await (const text of lines(res.body)) {
      const line = JSON.parse(text) as ImportLine
      if ('progress' in line) options.onProgress?.(line.progress.bytes, line.progress.file)
      else if ('results' in line) return line.results
      else throw errorFromBody(line, 500)
    }
    throw new ApiUnavailableError('the Trove node ended POST /blobs/import without an answer')
  }

  /** A file's bytes sent over `POST /blobs`, under its base name. */
  private async streamFile (file: string, options: AddOptions): Promise<AddResult> {
    let stat
    try {
      stat = await fs.stat(file)
    } catch (err) {
      throw new FileNotFoundError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
    }
    if (!stat.isFile()) throw new FileNotFoundError(`not a regular file: ${file}`)
    return this.addStream(createReadStream(file, { highWaterMark: IO_CHUNK_SIZE }), { ...options, name: path.basename(file) })
  }

  /** Streams content (any iterable of bytes) into the node; the answer is like addFile's. */
  async addStream (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: AddStreamOptions = {}): Promise<AddResult> {
    const query: Record<string, string | undefined> = { name: options.name }
    if (options.pin === true) query.pin = '1'
    if (options.ref !== undefined) {
      assertKey(options.ref)
      query.ref = options.ref
      if (options.refMeta !== undefined) query.meta = JSON.stringify(options.refMeta)
    }
    return await this.upload('/blobs', {
      query,
      body: countBytes(source, options.onProgress),
      signal: options.signal,
      by: options.by
    }) as AddResult
  }

  async cat (uri: string, range: ReadRange = {}, options: CatOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    if (isDirUri(uri)) {
      // a file inside a directory is its blob: resolved by the node, then read as any blob
      const listing = await this.listDir(uri, { limit: 1, timeoutMs: options.timeoutMs })
      if (listing.kind === 'dir') throw isADirectory(listing.uri)
      return this.cat(listing.sha1, range, options)
    }
    const sha1 = toSha1(uri)
    const offset = range.offset ?? 0
    checkRange(offset, range.length)
    if (range.length === 0) {
      // HTTP cannot ask for zero bytes; check the bounds as the store does and answer nothing
      resolveRange(await this.size(sha1), range)
      return Readable.from([])
    }
    const headers: Record<string, string> = {}
    if (range.offset !== undefined || range.length !== undefined) {
      headers.range = `bytes=${offset}-${range.length !== undefined ? String(offset + range.length - 1) : ''}`
    }
    const query = options.timeoutMs !== undefined ? { timeoutMs: String(options.timeoutMs) } : undefined
    let res: HttpAnswer
    try {
      res = await this.request('GET', `/blobs/${sha1}`, { headers, query })
    } catch (err) {
      if (!isError(err, RangeNotSatisfiableError)) throw err
      // the store answers an empty stream for "from the very end", which HTTP calls
      // unsatisfiable; otherwise the store's own error, worded as the embedded node words it
      resolveRange(await this.size(sha1), range)
      return Readable.from([])
    }
    if (range.length !== undefined && res.status === 206) {
      const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1])
      // HTTP shortens a range that runs past the end; the store refuses it, and so do we
      if (offset + range.length > total) {
        res.cancel()
        resolveRange(total, range)
      }
    }
    const evictions = decodeEvictions(res.headers.get(EVICTIONS_HEADER))
    if (evictions.length > 0) options.onEvictions?.(evictions)
    return Readable.from(brokenOffAs(res.body, sha1), { objectMode: false })
  }

  /** The node fetches the blob from its peers when it is not stored there; no progress comes back. */
  async fetchBlob (uri: string, options: FetchOptions = {}): Promise<FetchedBlob> {
    const sha1 = toSha1(uri)
    const result = await this.fetchMany([sha1], { signal: options.signal, timeoutMs: options.timeoutMs })
    const failed = result.failed[0]
    if (failed !== undefined) throw errorFromBody({ error: { code: failed.code, name: 'TroveError', message: failed.message } }, 500)
    // stored there now: its size is the store's
    const fetched: FetchedBlob = { sha1, size: await this.size(sha1, options) }
    if (result.evictions !== undefined && result.evictions.length > 0) fetched.evictions = result.evictions
    return fetched
  }

  /**
   * The node fetches the blob and puts it at `dest` itself (`POST /blobs/{sha1}/export`: a hard
   * link to its stored file, or a kernel copy; no byte crosses HTTP), with progress coming back as
   * a stream of lines. When the node cannot write there though this process may (another user,
   * another mount namespace, a node without the route), the bytes come over `GET /blobs/{sha1}`
   * into a temp file beside `dest` that is then renamed.
   */
  async exportBlob (uri: string, dest: string, options: ExportOptions = {}): Promise<ExportResult> {
    const sha1 = toSha1(uri)
    const file = path.resolve(dest)
    const body: Record<string, unknown> = { path: file }
    if (options.force === true) body.force = true
    if (options.copy === true) body.copy = true
    if (options.timeoutMs !== undefined) body.timeoutMs = options.timeoutMs
    let res: HttpAnswer
    try {
      res = await this.request('POST', `/blobs/${sha1}/export`, { json: body, headers: { accept: NDJSON }, signal: options.signal })
    } catch (err) {
      // refused before the node fetched anything: the path is checked first
      if (!NODE_CANNOT_WRITE.has((err as { code?: string }).code ?? '')) throw err
      return this.download(sha1, file, options)
    }
    for await (const text of lines(res.body)) {
      const line = JSON.parse(text) as ExportLine
      if ('progress' in line) options.onProgress?.(line.progress)
      else if ('result' in line) return line.result
      else throw errorFromBody(line, 500)
    }
    throw new ApiUnavailableError('the Trove node ended POST /blobs/{sha1}/export without an answer')
  }

  /** exportBlob's way when the node cannot write the file: its bytes over HTTP, written here. */
  private async download (sha1: string, file: string, options: ExportOptions): Promise<ExportResult> {
    // the node could not see the directory: nor may this process, and then nothing is fetched
    const dir = path.dirname(file)
    if ((await fs.stat(dir).catch(() => undefined))?.isDirectory() !== true) throw new FileNotFoundError(`cannot write ${file}: no such directory ${dir}`)
    const evictions: Eviction[] = []
    const stream = await this.cat(sha1, {}, { timeoutMs: options.timeoutMs, onEvictions: (e) => evictions.push(...e) })
    const size = await writeFileAtomically(file, stream, { force: options.force })
    const result: ExportResult = { sha1, size, path: file, how: 'copy' }
    if (evictions.length > 0) result.evictions = evictions
    return result
  }

  async blobInfo (uri: string, options: BlobInfoOptions = {}): Promise<BlobInfoReport> {
    const query: Record<string, string | undefined> = { wait: options.wait === true ? '1' : undefined }
    if (options.timeoutMs !== undefined) query.timeoutMs = String(options.timeoutMs)
    return this.json('GET', `/blobs/${toSha1(uri)}/info`, { query, signal: options.signal })
  }

  async setRef (key: string, obj: unknown, meta: RefMeta = {}, options: { by?: string } = {}): Promise<RefRecord> {
    return this.json('PUT', refPath(key), { json: { obj, meta }, by: options.by })
  }

  async mergeRef (key: string, members: Record<string, unknown>, meta: RefMeta = {}, options: { by?: string } = {}): Promise<RefRecord> {
    return this.json('POST', refPath(key), { json: { obj: members, meta }, by: options.by })
  }

  async getRef (key: string, options: { version?: number } = {}): Promise<RefRecord> {
    const query = options.version !== undefined ? { version: String(options.version) } : undefined
    return this.json('GET', refPath(key), { query })
  }

  async rmRef (key: string, options: { by?: string } = {}): Promise<{ key: string, version: number }> {
    return this.json('DELETE', refPath(key), { by: options.by })
  }

  async refHistory (key: string): Promise<HistoryEntry[]> {
    const res = await this.json<{ history: HistoryEntry[] }>('GET', `${refPath(key)}/history`)
    return res.history
  }

  async listRefs (options: ListOptions = {}): Promise<ListPage> {
    const query: Record<string, string | undefined> = {
      prefix: options.prefix,
      refsTo: options.refsTo,
      cursor: options.cursor,
      limit: options.limit !== undefined ? String(options.limit) : undefined
    }
    for (const [field, value] of Object.entries(options.meta ?? {})) query[`meta.${field}`] = JSON.stringify(value)
    return this.json('GET', '/refs', { query })
  }

  async pin (uri: string, options: { by?: string } = {}): Promise<PinRecord> {
    return this.json('PUT', `/pins/${toSha1(uri)}`, { by: options.by })
  }

  async unpin (uri: string): Promise<{ sha1: string, unpinned: boolean }> {
    return this.json('DELETE', `/pins/${toSha1(uri)}`)
  }

  async listPins (): Promise<PinRecord[]> {
    return (await this.json<{ pins: PinRecord[] }>('GET', '/pins')).pins
  }

  async why (uri: string): Promise<WhyReport> {
    return this.json('GET', `/why/${toSha1(uri)}`)
  }

  async status (options: { signal?: AbortSignal } = {}): Promise<StatusReport> {
    return this.json('GET', '/status', { signal: options.signal })
  }

  /** Progress is not reported over HTTP; the answer comes when the whole store is checked. */
  async verify (_options: { onProgress?: (p: { checked: number, total: number }) => void } = {}): Promise<VerifyReport> {
    return this.json('POST', '/verify')
  }

  async peers (): Promise<PeerInfo[]> {
    return (await this.json<{ peers: PeerInfo[] }>('GET', '/peers')).peers
  }

  async connect (addr: string): Promise<PeerInfo> {
    return this.json('POST', '/peers', { json: { addr } })
  }

  async transfers (): Promise<TransferInfo[]> {
    return (await this.json<{ transfers: TransferInfo[] }>('GET', '/transfers')).transfers
  }

  /** Makes many blobs local on the node (fetched from its peers); failures are listed, not thrown. */
  async fetchMany (uris: string[], options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<FetchManyResult & { evictions?: Eviction[] }> {
    const body: { uris: string[], timeoutMs?: number } = { uris: uris.map((u) => toSha1(u)) }
    if (options.timeoutMs !== undefined) body.timeoutMs = options.timeoutMs
    return this.json('POST', '/fetch', { json: body, signal: options.signal })
  }

  async listDir (uri: string, options: ListDirOptions = {}): Promise<DirListing> {
    const { sha1, path: segments } = parseDirUri(uri)
    const query: Record<string, string | undefined> = { list: '1', cursor: options.cursor }
    if (options.limit !== undefined) query.limit = String(options.limit)
    if (options.timeoutMs !== undefined) query.timeoutMs = String(options.timeoutMs)
    return this.json('GET', `/dirs/${formatDirUri(sha1, segments).slice('sha1dir://'.length)}`, { query, signal: options.signal })
  }

  /** The node makes the tree local (`POST /dirs/{sha1}/fetch`); its progress comes back as lines. */
  async fetchDir (uri: string, options: FetchDirOptions = {}): Promise<FetchDirResult> {
    return this.dirFetch(uri, {}, options)
  }

  /**
   * The node fetches the tree and writes it to `dest` itself, from its store by kernel copy (a
   * reflink where the filesystem has them): no byte of the tree crosses HTTP, and it is written
   * once where it lands.
   */
  async getDir (uri: string, dest: string, options: GetDirOptions = {}): Promise<GetDirResult> {
    const target = path.resolve(dest)
    // made here, so the node writes where this process sees it, or says it cannot
    await fs.mkdir(path.dirname(target), { recursive: true })
    try {
      const result = await this.dirFetch(uri, { dest: target, force: options.force === true }, options) as GetDirResult
      return { ...result, path: dest }
    } catch (err) {
      // refused before anything was fetched; otherwise the node's error is the answer
      if (!NODE_CANNOT_WRITE.has((err as { code?: string }).code ?? '')) throw err
    }
    // the node makes the tree local, and this process writes it from bytes read over HTTP
    return getDir(httpTree({
      readBlob: async (sha1, signal) => this.request('GET', `/blobs/${sha1}`, { signal }),
      fetchDir: async (u, o) => this.fetchDir(u, o),
      fetchMany: async (uris, o) => this.fetchMany(uris, o),
      blobInfo: async (u) => this.blobInfo(u)
    }), uri, dest, options)
  }

  private async dirFetch (uri: string, extra: { dest?: string, force?: boolean }, options: FetchDirOptions): Promise<FetchDirResult> {
    const { sha1, path: segments } = parseDirUri(uri)
    const body: Record<string, unknown> = { ...extra }
    if (segments.length > 0) body.path = segments.map((s) => encodeURIComponent(s)).join('/')
    if (options.timeoutMs !== undefined) body.timeoutMs = options.timeoutMs
    const res = await this.request('POST', `/dirs/${sha1}/fetch`, { json: body, headers: { accept: NDJSON }, signal: options.signal })
    for await (const text of lines(res.body)) {
      const line = JSON.parse(text) as DirFetchLine
      if ('progress' in line) options.onProgress?.(line.progress)
      else if ('result' in line) return line.result
      else throw errorFromBody(line, 500)
    }
    throw new ApiUnavailableError('the Trove node ended POST /dirs/{sha1}/fetch without an answer')
  }

  async gc (options: { dryRun?: boolean } = {}): Promise<GcReport> {
    return this.json('POST', '/gc', { json: { dryRun: options.dryRun === true } })
  }

  /** Nothing to release: each request is independent. */
  async close (): Promise<void> {}

  private async json<T> (method: string, route: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, route, options)
    return await res.json() as T
  }

  /** The blob's size as the node knows it (the store's, else its providers'), nothing fetched. */
  private async size (sha1: string, options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<number> {
    return (await this.blobInfo(sha1, { ...options, wait: true })).size ?? 0
  }

  /** One request; a non-2xx answer becomes the TroveError it describes. */
  private async request (method: string, route: string, options: RequestOptions = {}): Promise<HttpAnswer> {
    const headers = this.headers(method, options)
    let body: string | undefined
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.json)
    }
    let res: HttpAnswer
    try {
      res = await httpRequest(this.urlOf(route, options.query), { method, headers, body, signal: options.signal })
    } catch (err) {
      throw this.networkError(err, options.signal)
    }
    if (res.ok || res.status === 304) return res
    let answer: unknown
    try {
      answer = method === 'HEAD' ? undefined : await res.json()
    } catch {
      answer = undefined
    }
    if (answer === undefined && method === 'HEAD') throw headError(res.status)
    throw errorFromBody(answer, res.status)
  }

  /**
   * A streamed POST, over node:http rather than fetch: undici's fetch keeps every chunk of a
   * streamed request body in memory until the request ends (nodejs/undici#4058), so a 10 GB
   * upload would need 10 GB of RAM. node:http writes with backpressure and holds one chunk.
   */
  private async upload (route: string, options: RequestOptions & { body: AsyncIterable<Uint8Array> | Iterable<Uint8Array> }): Promise<unknown> {
    const headers = { ...this.headers('POST', options), 'content-type': 'application/octet-stream' }
    return new Promise((resolve, reject) => {
      let answered = false
      const req = http.request(this.urlOf(route, options.query), { method: 'POST', headers, signal: options.signal })
      req.once('response', (res) => {
        answered = true
        const parts: Buffer[] = []
        res.on('data', (chunk: Buffer) => parts.push(chunk))
        res.once('error', (err) => { reject(this.networkError(err, options.signal)) })
        res.once('end', () => {
          let body: unknown
          try {
            body = JSON.parse(Buffer.concat(parts).toString('utf8'))
          } catch {
            body = undefined
          }
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300 && body !== undefined) resolve(body)
          else reject(errorFromBody(body, status))
          // answered before the whole body went out (a refusal): stop sending
          if (!req.writableFinished) req.destroy()
        })
      })
      req.once('error', (err) => {
        // a refusal (401, 400) may arrive before the upload is through; the answer wins then
        if (!answered) reject(this.networkError(err, options.signal))
      })
      pipeline(Readable.from(options.body), req).catch((err: unknown) => {
        if (!answered) req.destroy(err as Error)
      })
    })
  }

  private urlOf (route: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(this.url + API_PREFIX + route)
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v)
    return url
  }

  private headers (method: string, options: RequestOptions): Record<string, string> {
    const headers: Record<string, string> = { ...options.headers }
    if (method !== 'GET' && method !== 'HEAD') {
      if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`
      headers[AUTHOR_HEADER] = options.by ?? this.by
    }
    return headers
  }

  private networkError (err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted === true) return signal.reason ?? err
    if (err instanceof TroveError) return err
    const e = err as { cause?: { code?: string, message?: string }, code?: string, message?: string }
    const why = e.cause?.code ?? e.cause?.message ?? e.code ?? e.message
    return new ApiUnavailableError(`cannot reach the Trove node at ${this.url}: ${String(why)}`, { cause: err })
  }
}

/** HEAD answers carry no body; rebuild the likely error from the status alone. */
function headError (status: number): TroveError {
  const code = status === 404 ? 'BLOB_NOT_FOUND' : status === 416 ? 'RANGE_NOT_SATISFIABLE' : status === 400 ? 'INVALID_URI' : 'INTERNAL'
  return errorFromBody({ error: { code, name: 'TroveError', message: `HTTP ${status}` } }, status)
}

function refPath (key: string): string {
  // every slash encoded: the key is one path segment, so no key can be mistaken for /history
  return `/refs/${encodeURIComponent(assertKey(key))}`
}

/** Error codes of `POST /blobs/import` that mean the node could not read what this process can. */
const NODE_CANNOT_READ = new Set(['FILE_NOT_FOUND', 'FILE_NOT_READABLE', 'NOT_FOUND'])
/**
 * Error codes of `POST /blobs/{sha1}/export` and of `POST /dirs/{sha1}/fetch` with a dest that mean
 * the node could not write where this process can (NOT_FOUND: a node without the route).
 */
const NODE_CANNOT_WRITE = new Set(['FILE_NOT_FOUND', 'FILE_NOT_WRITABLE', 'NOT_FOUND'])

/**
 * A blob's bytes from the node, with a body that breaks off (the node streams a remote blob as it
 * fetches it, and ends the answer early when the fetch fails: never with a false last chunk) told
 * as the failed transfer it is rather than as a socket error.
 */
async function * brokenOffAs (body: AsyncIterable<Uint8Array>, sha1: string): AsyncGenerator<Uint8Array> {
  let bytes = 0
  try {
    for await (const chunk of body) {
      bytes += chunk.byteLength
      yield chunk
    }
  } catch (err) {
    throw new TransferFailedError(brokenOffMessage(sha1, bytes), { cause: err })
  }
}

/** The lines of a stream of text, without their line ends. */
async function * lines (body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let rest = ''
  for await (const chunk of body) {
    rest += decoder.decode(chunk, { stream: true })
    let nl
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl)
      rest = rest.slice(nl + 1)
      if (line.trim() !== '') yield line
    }
  }
  if (rest.trim() !== '') yield rest
}

function checkRange (offset: number, length: number | undefined): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
    throw new InvalidArgumentError('range offset and length must be non-negative integers')
  }
}

async function * countBytes (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onProgress?: (bytes: number) => void): AsyncGenerator<Uint8Array> {
  let n = 0
  for await (const chunk of source) {
    n += chunk.length
    yield chunk
    onProgress?.(n)
  }
}
