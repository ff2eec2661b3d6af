#!/usr/bin/env node
import { run } from './program.js'

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `trove cat ... | head` closes the pipe early; that is the reader's choice, not a failure
  if (err.code === 'EPIPE') process.exit(0)
})

process.exitCode = await run(process.argv)
