import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { InvalidArgumentError } from '../../errors.js'
import type { Eviction, FetchManyResult, ReadRange, TroveOps } from '../../ops.js'
import { findReferences, toSha1 } from '../../uri.js'
import { formatSize } from '../../units.js'
import { TIMEOUT_OPTION, parseTimeoutArg } from '../args.js'
import { withBackend } from '../backend.js'
import { emit, notice, type GlobalOptions } from '../output.js'
import { checkOutputPath, ignoreEpipe, writeFileAtomically } from '../io.js'
import { countProgress, fetchProgress, spinner } from '../progress.js'
import { refFiles, type RefFile } from '../ref-files.js'
import { evictionLines } from './space.js'
import { getDirCommand } from './dirs.js'
import { isDirUri } from '../../dirs/uri.js'

type Globals = () => GlobalOptions

/** `get --ref` on a terminal fetches in rounds of this many blobs (at least), so its bar moves. */
const REF_ROUND_MIN = 64
/** ... and in at most this many rounds: each is a request, and small blobs travel best in big batches. */
const REF_ROUNDS_MAX = 50

interface GetFlags {
  output?: string
  ref?: string
  force?: boolean
  copy?: boolean
  timeout?: string
}

export function registerGetCommand (program: Command, globals: Globals): void {
  program.command('get')
    .description('fetch a blob from peers when it is not local, and write it to a file (or stdout)')
    .argument('[uri]', 'sha1://... URI, or sha1dir://... (a directory: -o names the directory to write)')
    .option('-o, --output <path>', 'file to write (default: stdout); with --ref, the directory to write the ref\'s files into')
    .option('--ref <key>', 'instead of one URI: fetch every blob the local ref KEY references')
    .option('--force', 'overwrite output files that exist (without it, an existing file is an error)')
    .option('--copy', 'with -o: write a file of its own, never a (read-only) hard link to the stored blob')
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
      if (output === undefined) {
        if (flags.copy === true) throw new InvalidArgumentError('--copy applies to -o FILE')
        await catToStdout(opts, uri, { timeoutMs }, 'get')
        return
      }
      await checkOutputPath(output, { force })
      const got = await withBackend(opts, 'get', async (trove) => {
        const bar = fetchProgress(sha1, opts)
        try {
          // the node fetches into its store and puts the file at `output` itself (TroveOps.exportBlob)
          return await trove.exportBlob(uri, output, { force, copy: flags.copy === true, timeoutMs, onProgress: (p) => { bar.update(p) } })
        } finally {
          bar.stop()
        }
      })
      const result: { uri: string, path: string, size: number, how: string, evictions?: Eviction[] } = { uri, path: output, size: got.size, how: got.how }
      if (got.evictions !== undefined && got.evictions.length > 0) result.evictions = got.evictions
      emit(opts, result, () => `${output} (${formatSize(got.size)}${got.how === 'link' ? ', hard link to the stored blob: read-only' : ''})`)
      notice(opts, evictionLines(got.evictions ?? []))
    })
}

/**
 * A blob (or a range) to stdout, `get URI` and `cat`: through a running node it streams as the
 * node fetches it, chunk by verified chunk; a terminal shows a spinner until the first byte is
 * on its way (the node is looking for providers).
 */
export async function catToStdout (opts: GlobalOptions, uri: string, options: { timeoutMs?: number, range?: ReadRange }, command: string): Promise<void> {
  const evictions: Eviction[] = []
  await withBackend(opts, command, async (trove) => {
    const spin = spinner(`looking for peers that hold sha1://${toSha1(uri).slice(0, 8)}…`, opts)
    let stream: AsyncIterable<Uint8Array>
    try {
      stream = await trove.cat(uri, options.range ?? {}, { timeoutMs: options.timeoutMs, onEvictions: (e) => evictions.push(...e) })
    } finally {
      spin.stop()
    }
    await pipeline(Readable.from(stream), process.stdout).catch(ignoreEpipe)
  })
  notice(opts, evictionLines(evictions))
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
    const fetched = await fetchInRounds(trove, uris, { timeoutMs: options.timeoutMs, json: opts.json, label: key })
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
 * `fetchMany` with a bar on a terminal: the blobs go in rounds (REF_ROUND_MIN..., at most
 * REF_ROUNDS_MAX) and the bar moves after each; scripts and pipes get one call, as before.
 */
async function fetchInRounds (trove: TroveOps, uris: string[], options: { timeoutMs?: number, json?: boolean, label: string }): Promise<FetchManyResult & { evictions?: Eviction[] }> {
  const bar = countProgress(options.label, uris.length, options)
  const round = process.stderr.isTTY === true && options.json !== true ? Math.max(REF_ROUND_MIN, Math.ceil(uris.length / REF_ROUNDS_MAX)) : Math.max(1, uris.length)
  const out: FetchManyResult & { evictions?: Eviction[] } = { fetched: 0, local: 0, failed: [] }
  try {
    // once at least: a ref of no blobs is one (empty) call, as it always was
    for (let i = 0; i === 0 || i < uris.length; i += round) {
      const r = await trove.fetchMany(uris.slice(i, i + round), { timeoutMs: options.timeoutMs })
      out.fetched += r.fetched
      out.local += r.local
      out.failed.push(...r.failed)
      if (r.evictions !== undefined && r.evictions.length > 0) out.evictions = [...(out.evictions ?? []), ...r.evictions]
      bar.update(Math.min(uris.length, i + round))
    }
  } finally {
    bar.stop()
  }
  return out
}
