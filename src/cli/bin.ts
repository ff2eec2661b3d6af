#!/usr/bin/env -S node --max-semi-space-size=1 --initial-old-space-size=64 --no-concurrent-array-buffer-sweeping
// Node flags above: see TROVE_NODE_FLAGS in src/node-flags.ts (a test keeps the two equal)
import { run } from './program.js'

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `trove cat ... | head` closes the pipe early; that is the reader's choice, not a failure
  if (err.code === 'EPIPE') process.exit(0)
})

process.exitCode = await run(process.argv)
