import type { Command } from 'commander'
import { initDataDir, resolveDataDir } from '../../datadir.js'
import { formatSize } from '../../units.js'
import { withBackend } from '../backend.js'
import { emit, type GlobalOptions } from '../output.js'

type Globals = () => GlobalOptions

export function registerNodeCommands (program: Command, globals: Globals): void {
  program.command('init')
    .description('create the data directory, its config and API token')
    .action(async () => {
      const opts = globals()
      const res = await initDataDir(resolveDataDir(opts.data))
      emit(opts, res, () => res.created ? `initialized ${res.dataDir}` : `already initialized: ${res.dataDir}`)
    })

  program.command('status')
    .description('usage, limits and counts')
    .action(async () => {
      const opts = globals()
      const st = await withBackend(opts, 'status', async (trove) => trove.status())
      emit(opts, st, () => [
        `data directory: ${st.dataDir} (${st.mode})`,
        `blobs: ${st.usage.blobs} (${formatSize(st.usage.bytes)})`,
        `refs: ${st.refs}`,
        `pins: ${st.pins}`
      ])
    })
}
