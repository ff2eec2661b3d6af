#!/usr/bin/env -S node --max-semi-space-size=1 --initial-old-space-size=64 --no-concurrent-array-buffer-sweeping
// Node flags above: see TROVE_NODE_FLAGS in src/node-flags.ts (a test keeps the two equal)
import module from 'node:module'
import { fileURLToPath } from 'node:url'
import { relaunchIfNodeTooOld } from './launcher.js'

// V8's compiled code of Trove and its packages is kept on disk (Node 22.1+; a no-op before) and
// reused by the next command: part of the startup a `trove cat` pays before its first byte
// (bench/cli; docs/performance.md). TROVE_NO_COMPILE_CACHE=1 turns it off (to measure it).
if (process.env.TROVE_NO_COMPILE_CACHE === undefined) module.enableCompileCache?.()

// on a Node older than Trove needs, the package's own Node runs the command instead; the CLI is
// loaded only after that check (dynamically), so an old Node never parses what it cannot run
if (!await relaunchIfNodeTooOld(fileURLToPath(import.meta.url))) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // `trove cat ... | head` closes the pipe early; that is the reader's choice, not a failure
    if (err.code === 'EPIPE') process.exit(0)
  })
  // `cat`/`get` of a blob to a pipe through a running node first try the fast path (cli/fast.ts),
  // which loads neither the parser nor the commands; it declines everything else
  const fast = process.env.TROVE_NO_FAST_PATH === undefined && ['cat', 'get'].includes(process.argv[process.argv[2] === '--data' ? 4 : 2])
    ? await (await import('./fast.js')).fastCat(process.argv.slice(2))
    : undefined
  if (fast !== undefined) {
    process.exitCode = fast
  } else {
    const { run } = await import('./program.js')
    process.exitCode = await run(process.argv)
  }
}
