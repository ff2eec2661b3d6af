import { spawn } from 'node:child_process'
import type { Command } from 'commander'
import { API_PREFIX } from '../../api/constants.js'
import { errorFromBody } from '../../api/errors.js'
import { readApiToken } from '../../api/token.js'
import { resolveDataDir } from '../../datadir.js'
import { NodeNotRunningError } from '../../errors.js'
import { connectToNode } from '../backend.js'
import { emit, notice, type GlobalOptions } from '../output.js'

type Globals = () => GlobalOptions

export function registerUiCommand (program: Command, globals: Globals): void {
  program.command('ui')
    .description('print a one-time login link to the running node\'s web dashboard (valid for a minute)')
    .option('--open', 'also open the link in the desktop\'s browser (xdg-open; only when a desktop session is present)')
    .action(async (flags: { open?: boolean }) => {
      const opts = globals()
      const dataDir = resolveDataDir(opts.data)
      const client = await connectToNode(dataDir)
      if (client === undefined) throw new NodeNotRunningError(`the dashboard is served by a running node: no node is running on ${dataDir} (start one with "trove start")`)
      const token = await readApiToken(dataDir)
      const res = await fetch(`${client.url}${API_PREFIX}/ui/login-links`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
      const body = await res.json() as { url: string, expiresAt: string }
      if (!res.ok) throw errorFromBody(body, res.status)
      const opened = flags.open === true && openInBrowser(body.url)
      emit(opts, { ...body, opened }, () => body.url)
      notice(opts, [flags.open === true && !opened
        ? 'no desktop session here (no DISPLAY or WAYLAND_DISPLAY): open the link in a browser on this machine within a minute; it works once'
        : opened ? 'opened in the desktop\'s browser' : 'open it in a browser on this machine within a minute; it works once'])
    })
}

/** Opens `url` with xdg-open when a desktop session is present; false when there is none. */
function openInBrowser (url: string): boolean {
  if (process.env.DISPLAY === undefined && process.env.WAYLAND_DISPLAY === undefined) return false
  try {
    const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' })
    child.on('error', () => {})
    child.unref()
    return true
  } catch {
    return false
  }
}
