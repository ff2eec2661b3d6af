import fs from 'node:fs/promises'
import type { Command } from 'commander'
import { FileNotFoundError, InvalidArgumentError } from '../../errors.js'
import { assertRefTakesFiles, refEntryNames, refObjFor, type AddDirResult, type AddResult, type Eviction, type ReadRange, type TroveOps } from '../../ops.js'
import { assertKey } from '../../refs/keys.js'
import { formatSize } from '../../units.js'
import { TIMEOUT_OPTION, metaFromFlags, parseByteCountArg, parseTimeoutArg, type RefMetaFlags } from '../args.js'
import { withBackend } from '../backend.js'
import { assertNotDataDir, resolveDataDir } from '../../datadir.js'
import { evictionLines, whySpaceLines } from './space.js'
import { emit, notice, type GlobalOptions } from '../output.js'
import { ignoreEpipe } from '../io.js'
import { byteProgress, treeProgress } from '../progress.js'
import { catToStdout } from './get.js'
import { MAX_FILE_NAME_LENGTH } from '../../api/constants.js'
import { isDirUri } from '../../dirs/uri.js'
import { catDirFile } from './dirs.js'

type Globals = () => GlobalOptions

export function registerBlobCommands (program: Command, globals: Globals): void {
  program.command('add')
    .description('store files and directories (or standard input, as "-"); prints sha1://... per file, sha1dir://... per directory')
    .argument('<files...>', 'files or directories to store, or - for standard input (streamed)')
    .option('--name <name>', 'with -: the file name standard input is stored as (in its URI, and in the ref of --ref)')
    .option('--ref <key>', 'record the files and directories under this ref key (added to what it holds; a member with the same name is replaced)')
    .option('--pin', 'pin the stored blobs (for a directory: its manifest, which keeps everything below it)')
    .option('--follow-symlinks', 'in a directory, store what symlinks point to (only inside the directory; without this a symlink is refused)')
    .option('--priority <n>', 'priority of the ref made by --ref')
    .option('--expires <when>', 'expiry of the ref made by --ref (ISO time or duration like 7d)')
    .option('--ttl <duration>', 'ttl of the ref made by --ref')
    .action(async (files: string[], flags: RefMetaFlags & { ref?: string, pin?: boolean, name?: string, followSymlinks?: boolean }) => {
      const opts = globals()
      if (files.includes('-') || flags.name !== undefined) {
        await addStdin(opts, files, flags)
        return
      }
      // check every path first so a typo in the last one does not leave the first ones half-recorded
      const sizes: Array<number | 'dir'> = []
      for (const file of files) {
        const stat = await fs.stat(file).catch(() => undefined)
        if (stat === undefined) throw new FileNotFoundError(`no such file or directory: ${file}`)
        if (!stat.isFile() && !stat.isDirectory()) throw new FileNotFoundError(`not a regular file or directory: ${file}`)
        sizes.push(stat.isDirectory() ? 'dir' : stat.size)
        if (stat.isDirectory()) await assertNotDataDir(file, resolveDataDir(opts.data))
      }
      // a bad --ref key must fail before anything is stored or pinned, not after
      if (flags.ref !== undefined) assertKey(flags.ref)
      if (flags.ref === undefined && (flags.priority !== undefined || flags.expires !== undefined || flags.ttl !== undefined)) {
        // they describe the ref --ref makes; silently dropping them would leave the files less protected than asked
        throw new InvalidArgumentError('--priority, --expires and --ttl apply to the ref made by --ref KEY; give --ref too')
      }
      const refMeta = flags.ref !== undefined ? await metaFromFlags({ priority: flags.priority, expires: flags.expires, ttl: flags.ttl }) : undefined
      const entries = flags.ref !== undefined ? refEntryNames(files) : undefined
      const results = await withBackend(opts, 'add', async (trove) => {
        // a ref holding something other than an object of files is refused before anything is stored
        if (flags.ref !== undefined) await assertRefTakesFiles(trove, flags.ref)
        const out: Array<AddResult | AddDirResult> = []
        for (const [i, file] of files.entries()) {
          const size = sizes[i]
          const r = size === 'dir' ? await addOneDir(trove, file, flags, opts) : await addOneFile(trove, file, size, flags, opts)
          if (entries !== undefined) r.entry = entries[i]
          out.push(r)
        }
        // merged, one version for the whole command: earlier members of the ref stay, same names are replaced
        if (flags.ref !== undefined) await trove.mergeRef(flags.ref, refObjFor(out), refMeta)
        return out
      })
      emit(opts, results, () => results.map((r) => r.uri))
      notice(opts, [...collisionLines(flags.ref, results), ...dirNoticeLines(results), ...evictionLines(results.flatMap((r) => r.evictions ?? []))])
    })

  program.command('cat')
    .description('write the content of a blob, or a byte range of it, to stdout (a running node fetches it from peers: for a range, only the chunks that cover it)')
    .argument('<uri>', 'sha1://... URI, or sha1dir://HASH/path/file (a file inside a directory)')
    .option('--offset <bytes>', 'start this many bytes into the blob (default 0)')
    .option('--length <bytes>', 'write this many bytes (default: to the end); a range past the end is refused')
    .option(...TIMEOUT_OPTION)
    .action(async (uri: string, flags: { timeout?: string, offset?: string, length?: string }) => {
      const opts = globals()
      const timeoutMs = parseTimeoutArg(flags.timeout)
      const range: ReadRange = {}
      if (flags.offset !== undefined) range.offset = parseByteCountArg(flags.offset, '--offset')
      if (flags.length !== undefined) range.length = parseByteCountArg(flags.length, '--length')
      if (isDirUri(uri)) return catDirFile(opts, uri, range, timeoutMs)
      await catToStdout(opts, uri, { timeoutMs, range }, 'cat')
    })

  program.command('pin')
    .description('keep a blob whatever its refs say')
    .argument('<uri>', 'sha1://... URI')
    .action(async (uri: string) => {
      const opts = globals()
      const rec = await withBackend(opts, 'pin', async (trove) => trove.pin(uri))
      emit(opts, rec, () => `pinned sha1://${rec.sha1}`)
    })

  program.command('unpin')
    .description('remove a blob\'s pin (its refs still hold it)')
    .argument('<uri>', 'sha1://... URI')
    .action(async (uri: string) => {
      const opts = globals()
      const res = await withBackend(opts, 'unpin', async (trove) => trove.unpin(uri))
      emit(opts, res, () => res.unpinned ? `unpinned sha1://${res.sha1}` : `sha1://${res.sha1} was not pinned`)
    })

  program.command('why')
    .description('which refs and pins keep a blob')
    .argument('<uri>', 'sha1://... URI')
    .action(async (uri: string) => {
      const opts = globals()
      const report = await withBackend(opts, 'why', async (trove) => trove.why(uri))
      emit(opts, report, () => {
        const lines = [`${report.uri} ${report.local ? `(${formatSize(report.size ?? 0)}, stored here)` : '(not stored here)'}`]
        if (report.reasons.length === 0) lines.push('  not held by any ref, pin or JSON blob: evictable cache')
        for (const r of report.reasons) {
          if (r.kind === 'pin') lines.push(`  pinned since ${r.since ?? '?'}`)
          else if (r.kind === 'ref') lines.push(`  ref ${r.key ?? ''} (priority ${r.priority ?? 0}${r.pin === true ? ', pinned ref' : ''})`)
        }
        lines.push(...whySpaceLines(report))
        return lines
      })
    })

  program.command('verify')
    .description('re-hash the store, report and quarantine anything corrupt')
    .action(async () => {
      const opts = globals()
      const report = await withBackend(opts, 'verify', async (trove) => trove.verify())
      emit(opts, report, () => {
        const lines = [`checked ${report.checked} blobs (${formatSize(report.bytes)})`]
        for (const c of report.corrupt) lines.push(`corrupt: sha1://${c.sha1} (content hashes to ${c.actual}); moved to ${c.quarantinedAs}`)
        for (const m of report.missing) lines.push(`missing: sha1://${m} was indexed but its bytes are gone; removed from the index`)
        for (const a of report.adopted) lines.push(`adopted: sha1://${a} was on disk but not indexed; indexed now`)
        for (const s of report.strays) lines.push(`stray file moved to quarantine: ${s}`)
        for (const p of report.damagedPacks ?? []) lines.push(`damaged pack ${p}: its intact blobs were moved to another pack and the pack dropped`)
        if (report.usageBefore.bytes !== report.usageAfter.bytes || report.usageBefore.blobs !== report.usageAfter.blobs) {
          lines.push(`counters corrected: ${report.usageBefore.blobs} blobs/${report.usageBefore.bytes} B -> ${report.usageAfter.blobs} blobs/${report.usageAfter.bytes} B`)
        }
        lines.push(report.ok ? 'ok' : 'problems found and repaired (see above)')
        return lines
      })
      if (!report.ok) process.exitCode = 3
    })
}

/**
 * `trove add -`: standard input, streamed into the store (embedded) or the node (`POST /blobs`),
 * never held whole. It has no file name unless `--name` gives one, and a ref member needs a name,
 * so `--ref` asks for `--name` too.
 */
async function addStdin (opts: GlobalOptions, files: string[], flags: RefMetaFlags & { ref?: string, pin?: boolean, name?: string }): Promise<void> {
  if (files.length !== 1 || files[0] !== '-') throw new InvalidArgumentError('- (standard input) is added on its own; --name applies only to it')
  const name = flags.name
  if (name !== undefined && (name === '' || name.includes('/') || name.includes('\0') || name.length > MAX_FILE_NAME_LENGTH)) {
    throw new InvalidArgumentError(`--name must be a file name (no "/", 1 to ${MAX_FILE_NAME_LENGTH} characters)`)
  }
  if (flags.ref !== undefined) assertKey(flags.ref)
  if (flags.ref !== undefined && name === undefined) throw new InvalidArgumentError('--ref records standard input under its file name; give --name too')
  if (flags.ref === undefined && (flags.priority !== undefined || flags.expires !== undefined || flags.ttl !== undefined)) {
    throw new InvalidArgumentError('--priority, --expires and --ttl apply to the ref made by --ref KEY; give --ref too')
  }
  const refMeta = flags.ref !== undefined ? await metaFromFlags({ priority: flags.priority, expires: flags.expires, ttl: flags.ttl }) : undefined
  const result = await withBackend(opts, 'add', async (trove) => {
    const bar = byteProgress(name ?? '-', undefined, opts)
    try {
      return await trove.addStream(process.stdin, { name, pin: flags.pin, ref: flags.ref, refMeta, onProgress: (n) => bar.update(n) })
    } finally {
      bar.stop()
    }
  })
  emit(opts, [result], () => [result.uri])
  notice(opts, evictionLines(result.evictions ?? []))
}

async function addOneFile (trove: TroveOps, file: string, size: number, flags: { pin?: boolean }, opts: GlobalOptions): Promise<AddResult> {
  const bar = byteProgress(file, size, opts)
  try {
    return await trove.addFile(file, { pin: flags.pin, onProgress: (n) => bar.update(n) })
  } finally {
    bar.stop()
  }
}

async function addOneDir (trove: TroveOps, dir: string, flags: { pin?: boolean, followSymlinks?: boolean }, opts: GlobalOptions): Promise<AddDirResult> {
  const bar = treeProgress(dir, opts)
  try {
    return await trove.addDir(dir, { pin: flags.pin, followSymlinks: flags.followSymlinks, onProgress: (p) => bar.update(p.files, p.bytes) })
  } finally {
    bar.stop()
  }
}

/** What a person should know of the directories added: files that changed while read, special files left out. */
function dirNoticeLines (results: Array<AddResult | AddDirResult>): string[] {
  const lines: string[] = []
  for (const r of results) {
    if (!('files' in r)) continue
    for (const c of r.changed ?? []) lines.push(`trove: ${r.name}/${c} changed while it was stored: the directory holds the bytes that were read`)
    if ((r.skipped ?? []).length > 0) lines.push(`trove: ${r.name}: left out ${r.skipped?.length ?? 0} socket(s), FIFO(s) or device(s): ${(r.skipped ?? []).slice(0, 10).join(', ')}${(r.skipped ?? []).length > 10 ? ', ...' : ''}`)
  }
  return lines
}

/** Files of one `add --ref` that share a base name are recorded under longer names: say which. */
function collisionLines (ref: string | undefined, results: Array<AddResult | AddDirResult>): string[] {
  const renamed = results.filter((r) => r.entry !== undefined && r.entry !== r.name)
  if (ref === undefined || renamed.length === 0) return []
  return [`trove: files with the same name are told apart in ${ref} by their paths: ${renamed.map((r) => r.entry ?? '').join(', ')}`]
}
