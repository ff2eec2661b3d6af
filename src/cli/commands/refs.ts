import type { Command } from 'commander'
import { InvalidArgumentError } from '../../errors.js'
import { metaFilterValue } from '../../ops.js'
import type { RefRecord } from '../../refs/ref-store.js'
import { metaFromFlags, parseIntArg, readJsonArg, type RefMetaFlags } from '../args.js'
import { withBackend } from '../backend.js'
import { emit, type GlobalOptions } from '../output.js'

type Globals = () => GlobalOptions

export function registerRefCommands (program: Command, globals: Globals): void {
  const ref = program.command('ref').description('named, versioned JSON records that point at blobs')

  ref.command('set')
    .description('set KEY to a JSON value; every sha1:// string inside it is a reference')
    .argument('<key>', 'ref key, a path like lab/mouse7/spike-sorting')
    .argument('<json>', 'the JSON value (- reads stdin, @FILE reads a file)')
    .option('--priority <n>', 'eviction priority (integer, default 0; higher is kept longer)')
    .option('--pin', 'never evict the blobs this ref holds')
    .option('--expires <when>', 'remove the ref at this ISO time, or after a duration like 7d')
    .option('--ttl <duration>', 'remove the ref when unread for this long (like 7d)')
    .option('--meta <json>', 'extra meta fields as a JSON object')
    .action(async (key: string, json: string, flags: RefMetaFlags) => {
      const opts = globals()
      const obj = await readJsonArg(json, 'ref value')
      const meta = await metaFromFlags(flags)
      const rec = await withBackend(opts, 'ref set', async (trove) => trove.setRef(key, obj, meta))
      emit(opts, rec, () => `${rec.key} v${rec.version}`)
    })

  ref.command('get')
    .description('print a ref\'s JSON value (--json: the whole record)')
    .argument('<key>')
    .option('--version <n>', 'an earlier version')
    .action(async (key: string, flags: { version?: string }) => {
      const opts = globals()
      const version = flags.version !== undefined ? parseIntArg(flags.version, '--version') : undefined
      const rec = await withBackend(opts, 'ref get', async (trove) => trove.getRef(key, { version }))
      emit(opts, rec, () => JSON.stringify(rec.obj, null, 2))
    })

  ref.command('rm')
    .description('remove a ref (its history is kept)')
    .argument('<key>')
    .action(async (key: string) => {
      const opts = globals()
      const res = await withBackend(opts, 'ref rm', async (trove) => trove.rmRef(key))
      emit(opts, res, () => `removed ${res.key} (history kept, removal is v${res.version})`)
    })

  ref.command('history')
    .description('every version of a ref: when, by whom, what')
    .argument('<key>')
    .action(async (key: string) => {
      const opts = globals()
      const entries = await withBackend(opts, 'ref history', async (trove) => trove.refHistory(key))
      emit(opts, entries, () => entries.map((e) =>
        `v${e.version}\t${e.setAt}\t${e.by ?? '-'}\t${e.deleted === true ? '(removed)' : JSON.stringify(e.obj)}`))
    })

  ref.command('ls')
    .description('list refs, optionally under a prefix')
    .argument('[prefix]', 'key prefix like lab/mouse7/')
    .option('--refs-to <uri>', 'only refs that reference this blob')
    .option('--limit <n>', 'at most this many (default: all)')
    .option('--meta <field=value>', 'only refs whose meta field has this value (repeatable: all must match); the value is JSON when it parses (5, true, "5"), else a string', (v: string, list: string[]) => [...list, v], [])
    .action(async (prefix: string | undefined, flags: { refsTo?: string, limit?: string, meta: string[] }) => {
      const opts = globals()
      const limit = flags.limit !== undefined ? parseIntArg(flags.limit, '--limit') : undefined
      const meta = metaFilters(flags.meta)
      const refs = await withBackend(opts, 'ref ls', async (trove) => {
        const out: RefRecord[] = []
        let cursor: string | undefined
        do {
          const page = await trove.listRefs({ prefix, refsTo: flags.refsTo, meta, cursor, limit: limit !== undefined ? limit - out.length : undefined })
          out.push(...page.refs)
          cursor = page.cursor
        } while (cursor !== undefined && (limit === undefined || out.length < limit))
        return out
      })
      emit(opts, refs, () => refs.map((r) => {
        const flagsText = [`v${r.version}`, `priority ${r.meta.priority ?? 0}`]
        if (r.meta.pin === true) flagsText.push('pinned')
        if (r.meta.expires !== undefined) flagsText.push(`expires ${r.meta.expires}`)
        if (r.meta.ttl !== undefined) flagsText.push(`ttl ${r.meta.ttl}`)
        return `${r.key}\t${flagsText.join(', ')}`
      }))
    })
}

/** `--meta field=value` flags as a filter (undefined when none are given), as `GET /refs?meta.<field>=` takes them. */
function metaFilters (flags: string[]): Record<string, unknown> | undefined {
  if (flags.length === 0) return undefined
  const filter: Record<string, unknown> = {}
  for (const flag of flags) {
    const eq = flag.indexOf('=')
    if (eq <= 0) throw new InvalidArgumentError(`--meta must be FIELD=VALUE (like priority=5 or project=p1), got "${flag}"`)
    const field = flag.slice(0, eq)
    if (Object.hasOwn(filter, field)) throw new InvalidArgumentError(`--meta ${field} given more than once; a ref's field has one value`)
    filter[field] = metaFilterValue(flag.slice(eq + 1))
  }
  return filter
}
