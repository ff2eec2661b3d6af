import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { InvalidArgumentError } from '../../errors.js'
import type { Eviction, TroveOps } from '../../ops.js'
import { findReferences, toSha1 } from '../../uri.js'
import { formatSize } from '../../units.js'
import { TIMEOUT_OPTION, parseTimeoutArg } from '../args.js'
import { withBackend } from '../backend.js'
import { emit, notice, type GlobalOptions } from '../output.js'
import { checkOutputPath, ignoreEpipe, writeFileAtomically } from '../io.js'
import { byteProgress, type ByteProgress } from '../progress.js'
import { refFiles, type RefFile } from '../ref-files.js'
import { evictionLines } from './space.js'
import { getDirCommand } from './dirs.js'
import { isDirUri } from '../../dirs/uri.js'

type Globals = () => GlobalOptions

/** How often a terminal's progress bar asks the node how a network fetch is going. */
const TRANSFER_POLL_MS = 250

interface GetFlags {
  output?: string
  ref?: string
  force?: boolean
  timeout?: string
}

export function registerGetCommand (program: Command, globals: Globals): void {
  program.command('get')
    .description('fetch a blob from peers when it is not local, and write it to a file (or stdout)')
    .argument('[uri]', 'sha1://... URI, or sha1dir://... (a directory: -o names the directory to write)')
    .option('-o, --output <path>', 'file to write (default: stdout); with --ref, the directory to write the ref\'s files into')
    .option('--ref <key>', 'instead of one URI: fetch every blob the local ref KEY references')
    .option('--force', 'overwrite output files that exist (without it, an existing file is an error)')
    .option(...TIMEOUT_OPTION)
    .action(async (uri: string | undefined, flags: GetFlags) => {
      const opts = globals()
      if (isDirUri(uri)) return getDirCommand(opts, uri, flags)
      const timeoutMs = parseTimeoutArg(flags.timeout)
      const force = flags.force === true
      if (flags.ref !== undefined) {
        if (uri !== undefined) throw new InvalidArgumentError('give a URI or --ref KEY, not both')
        await getRef(opts, flags.ref, { dir: flags.output, force, timeoutMs })
        return
      }
      if (uri === undefined) throw new InvalidArgumentError('missing URI (or --ref KEY)')
      const sha1 = toSha1(uri)
      const output = flags.output
      if (output !== undefined) await checkOutputPath(output, { force })
      const evictions: Eviction[] = []
      const onEvictions = (e: Eviction[]): void => { evictions.push(...e) }
      await withBackend(opts, 'get', async (trove) => {
        const stream = await withTransferProgress(trove, sha1, opts, async () => trove.cat(uri, {}, { timeoutMs, onEvictions }))
        if (output === undefined) {
          await pipeline(Readable.from(stream), process.stdout).catch(ignoreEpipe)
          return
        }
        const size = await writeFileAtomically(output, stream, { force })
        const result: { uri: string, path: string, size: number, evictions?: Eviction[] } = { uri, path: output, size }
        if (evictions.length > 0) result.evictions = evictions
        emit(opts, result, () => `${output} (${formatSize(size)})`)
      })
      notice(opts, evictionLines(evictions))
    })
}

async function getRef (opts: GlobalOptions, key: string, options: { dir?: string, force: boolean, timeoutMs?: number }): Promise<void> {
  const { dir, force } = options
  if (dir !== undefined) await checkOutputDir(dir)
  const result = await withBackend(opts, 'get', async (trove) => {
    const ref = await trove.getRef(key)
    const uris = [...findReferences(ref.obj)].map((s) => `sha1://${s}`)
    // every name checked, and every target free (or --force), before anything is fetched
    const files = dir !== undefined ? refFiles(key, ref.obj) : undefined
    if (dir !== undefined && files !== undefined) await checkTargets(dir, files, force)
    const fetched = await trove.fetchMany(uris, { timeoutMs: options.timeoutMs })
    const out: typeof fetched & { key: string, blobs: number, dir?: string, files?: Array<{ path: string, uri: string, size: number }> } = { key, blobs: uris.length, ...fetched }
    if (dir === undefined || files === undefined) return out
    const failed = new Set(fetched.failed.map((f) => f.sha1))
    out.dir = dir
    out.files = []
    for (const f of files) {
      if (failed.has(f.sha1)) continue
      const target = path.join(dir, ...f.path.split('/'))
      await fs.mkdir(path.dirname(target), { recursive: true })
      const uri = `sha1://${f.sha1}`
      out.files.push({ path: f.path, uri, size: await writeFileAtomically(target, await trove.cat(uri), { force }) })
    }
    return out
  })
  emit(opts, result, () => {
    const lines = [`${key}: ${result.blobs} blobs, ${result.fetched} fetched, ${result.local} already here, ${result.failed.length} failed`]
    for (const f of result.failed) lines.push(`  failed sha1://${f.sha1}: ${f.message}`)
    if (result.files !== undefined) lines.push(`wrote ${result.files.length} file${result.files.length === 1 ? '' : 's'} to ${result.dir ?? ''}`)
    return lines
  })
  notice(opts, evictionLines(result.evictions ?? []))
  if (result.failed.length > 0) process.exitCode = 1
}

/** `-o DIR` with --ref: a directory, or a path where one can be made. */
async function checkOutputDir (dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch(() => undefined)
  if (stat !== undefined && !stat.isDirectory()) throw new InvalidArgumentError(`-o ${dir} is a file; with --ref, -o names the directory to write the ref's files into`)
}

/** Each file's target is free, or (with --force) a file that may be replaced; never a directory. */
async function checkTargets (dir: string, files: RefFile[], force: boolean): Promise<void> {
  for (const f of files) {
    const target = path.join(dir, ...f.path.split('/'))
    // an existing target gets the checks of `get URI -o FILE`; a missing one (and its directories) is made later
    if (await fs.stat(target).then(() => true, () => false)) await checkOutputPath(target, { force })
  }
}

/**
 * While `work` waits for the node to fetch a blob from peers, a terminal shows the transfer's
 * bytes, rate and peer count (polled from the node); scripts and pipes see nothing extra.
 */
async function withTransferProgress<T> (trove: TroveOps, sha1: string, opts: GlobalOptions, work: () => Promise<T>): Promise<T> {
  if (opts.json === true || process.stderr.isTTY !== true) return work()
  let bar: ByteProgress | undefined
  let polling = false
  const timer = setInterval(() => {
    if (polling) return
    polling = true
    void Promise.resolve(trove.transfers()).then((list) => {
      const t = list.find((x) => x.sha1 === sha1)
      if (t === undefined) return
      bar ??= byteProgress(`sha1://${sha1.slice(0, 8)}… from ${t.peers.length} peer(s)`, t.size, { json: false, minBytes: 0 })
      bar.update(t.bytes)
      // a poll that fails only skips one update of the bar: the transfer reports its own failure
    }).catch(() => {}).finally(() => { polling = false })
  }, TRANSFER_POLL_MS)
  try {
    return await work()
  } finally {
    clearInterval(timer)
    bar?.stop()
  }
}
