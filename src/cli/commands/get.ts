import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { InvalidArgumentError } from '../../errors.js'
import type { TroveOps } from '../../ops.js'
import { findReferences, toSha1 } from '../../uri.js'
import { formatSize } from '../../units.js'
import { withBackend } from '../backend.js'
import { emit, type GlobalOptions } from '../output.js'
import { checkOutputPath, ignoreEpipe } from '../io.js'
import { byteProgress, type ByteProgress } from '../progress.js'

type Globals = () => GlobalOptions

/** How often a terminal's progress bar asks the node how a network fetch is going. */
const TRANSFER_POLL_MS = 250

export function registerGetCommand (program: Command, globals: Globals): void {
  program.command('get')
    .description('fetch a blob from peers when it is not local, and write it to a file (or stdout)')
    .argument('[uri]', 'sha1://... URI')
    .option('-o, --output <path>', 'file to write (default: stdout)')
    .option('--ref <key>', 'instead of one URI: fetch every blob the local ref KEY references')
    .action(async (uri: string | undefined, flags: { output?: string, ref?: string }) => {
      const opts = globals()
      if (flags.ref !== undefined) {
        if (uri !== undefined) throw new InvalidArgumentError('give a URI or --ref KEY, not both')
        await getRef(opts, flags.ref)
        return
      }
      if (uri === undefined) throw new InvalidArgumentError('missing URI (or --ref KEY)')
      const sha1 = toSha1(uri)
      if (flags.output !== undefined) await checkOutputPath(flags.output)
      await withBackend(opts, 'get', async (trove) => {
        const stream = await withTransferProgress(trove, sha1, opts, async () => trove.cat(uri))
        if (flags.output === undefined) {
          await pipeline(Readable.from(stream), process.stdout).catch(ignoreEpipe)
          return
        }
        const tmp = `${flags.output}.trove-partial`
        try {
          await pipeline(Readable.from(stream), createWriteStream(tmp))
          await fs.rename(tmp, flags.output)
        } catch (err) {
          await fs.rm(tmp, { force: true })
          throw err
        }
        const stat = await fs.stat(flags.output)
        emit(opts, { uri, path: flags.output, size: stat.size }, () => `${flags.output} (${formatSize(stat.size)})`)
      })
    })
}

async function getRef (opts: GlobalOptions, key: string): Promise<void> {
  const result = await withBackend(opts, 'get', async (trove) => {
    const ref = await trove.getRef(key)
    const uris = [...findReferences(ref.obj)].map((s) => `sha1://${s}`)
    return { key, blobs: uris.length, ...await trove.fetchMany(uris) }
  })
  emit(opts, result, () => {
    const lines = [`${key}: ${result.blobs} blobs, ${result.fetched} fetched, ${result.local} already here, ${result.failed.length} failed`]
    for (const f of result.failed) lines.push(`  failed sha1://${f.sha1}: ${f.message}`)
    return lines
  })
  if (result.failed.length > 0) process.exitCode = 1
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
    }).catch(() => {}).finally(() => { polling = false })
  }, TRANSFER_POLL_MS)
  try {
    return await work()
  } finally {
    clearInterval(timer)
    bar?.stop()
  }
}
