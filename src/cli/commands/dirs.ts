import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { InvalidArgumentError } from '../../errors.js'
import type { DirListEntry, DirListing, DirProgress, Eviction, ReadRange } from '../../ops.js'
import { formatSize } from '../../units.js'
import { TIMEOUT_OPTION, parseTimeoutArg } from '../args.js'
import { withBackend } from '../backend.js'
import { ignoreEpipe } from '../io.js'
import { emit, notice, type GlobalOptions } from '../output.js'
import { cliProgress } from '../progress.js'
import { evictionLines } from './space.js'

type Globals = () => GlobalOptions

/** `trove ls URI`: what a sha1dir:// URI names, every page of it. */
export function registerDirCommands (program: Command, globals: Globals): void {
  program.command('ls')
    .description('list a directory (sha1dir://HASH[/path]): names, kinds, sizes, and whether each is stored here')
    .argument('<uri>', 'sha1dir://... URI')
    .option(...TIMEOUT_OPTION)
    .action(async (uri: string, flags: { timeout?: string }) => {
      const opts = globals()
      const timeoutMs = parseTimeoutArg(flags.timeout)
      const listing = await withBackend(opts, 'ls', async (trove) => {
        const first = await trove.listDir(uri, { timeoutMs })
        const entries = [...first.entries]
        let next = first.next
        while (next !== undefined) {
          const page = await trove.listDir(uri, { timeoutMs, cursor: next })
          entries.push(...page.entries)
          next = page.next
        }
        const all: DirListing = { ...first, entries }
        delete all.next
        return all
      })
      emit(opts, listing, () => listLines(listing))
    })
}

function listLines (listing: DirListing): string[] {
  const sizes = listing.entries.map((e) => formatSize(e.size))
  const width = Math.max(0, ...sizes.map((s) => s.length))
  return listing.entries.map((e: DirListEntry, i) => {
    const kind = e.kind === 'dir' ? 'd' : e.exec ? 'x' : 'f'
    return `${kind} ${sizes[i].padStart(width)} ${e.local ? 'local ' : 'remote'} ${e.name}${e.kind === 'dir' ? '/' : ''}`
  })
}

/** `trove cat sha1dir://HASH/path/file`: one file of a directory to stdout (a directory is an error saying to ls or get it). */
export async function catDirFile (opts: GlobalOptions, uri: string, range: ReadRange, timeoutMs: number | undefined): Promise<void> {
  const evictions: Eviction[] = []
  await withBackend(opts, 'cat', async (trove) => {
    const stream = await trove.cat(uri, range, { timeoutMs, onEvictions: (e) => evictions.push(...e) })
    await pipeline(Readable.from(stream), process.stdout).catch(ignoreEpipe)
  })
  notice(opts, evictionLines(evictions))
}

/**
 * `trove get sha1dir://HASH[/path] -o DIR`: the tree (or one file) fetched and written to DIR,
 * with a bar of files and bytes on a terminal. Through a running node, the node fetches and
 * writes; embedded, this process does.
 */
export async function getDirCommand (opts: GlobalOptions, uri: string, flags: { output?: string, force?: boolean, timeout?: string, ref?: string }): Promise<void> {
  if (flags.ref !== undefined) throw new InvalidArgumentError('give a URI or --ref KEY, not both')
  const dest = flags.output
  if (dest === undefined) throw new InvalidArgumentError('a directory URI needs -o DIR: where to write the tree')
  const timeoutMs = parseTimeoutArg(flags.timeout)
  const bar = treeProgress(opts)
  const result = await withBackend(opts, 'get', async (trove) => {
    try {
      return await trove.getDir(uri, dest, { force: flags.force === true, timeoutMs, onProgress: bar.update })
    } finally {
      bar.stop()
    }
  })
  emit(opts, result, () => `${result.path}: ${result.kind === 'dir' ? `${result.files} file${result.files === 1 ? '' : 's'} in ${result.dirs + 1} director${result.dirs === 0 ? 'y' : 'ies'}, ` : ''}${formatSize(result.bytes)} (${result.fetched} blobs fetched, ${result.local} already here)${result.replaced ? ', replaced what was there' : ''}`)
  notice(opts, evictionLines(result.evictions ?? []))
}

/** A bar of files and bytes on stderr when it is a terminal; nothing for scripts and --json. */
function treeProgress (opts: GlobalOptions): { update: (p: DirProgress) => void, stop: () => void } {
  if (opts.json === true || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  let bar: ReturnType<typeof makeBar> | undefined
  let phase = ''
  const stop = (): void => { bar?.stop(); bar = undefined }
  return {
    update (p) {
      if (p.phase !== phase) {
        stop()
        phase = p.phase
        bar = makeBar(p.phase === 'manifests' ? 'reading manifests' : p.phase === 'fetch' ? 'fetching' : 'writing')
        bar.start(Math.max(p.totalFiles, 1), 0, fields(p))
      }
      bar?.setTotal(Math.max(p.totalFiles, 1))
      bar?.update(p.files, fields(p))
    },
    stop
  }
}

function makeBar (label: string): InstanceType<ReturnType<typeof cliProgress>['SingleBar']> {
  return new (cliProgress().SingleBar)({
    stream: process.stderr,
    format: `${label} [{bar}] {value}/{total} files {bytes}`,
    hideCursor: true,
    clearOnComplete: true,
    barsize: 30
  }, cliProgress().Presets.shades_classic)
}

function fields (p: DirProgress): { bytes: string } {
  return { bytes: p.phase === 'write' ? `${formatSize(p.bytes)}/${formatSize(p.totalBytes)}` : formatSize(p.totalBytes) }
}
