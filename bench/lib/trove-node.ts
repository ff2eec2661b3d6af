import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { TROVE_NODE_FLAGS } from '../../src/node-flags.js'

/** The built CLI the benches run. */
export const troveBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/bin.js')

/** `trove start` on `data` (loopback, free ports, no mDNS), once its API answers: its first line. */
export async function startNode (data: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...TROVE_NODE_FLAGS, troveBin, '--json', '--data', data, 'start', '--api', '127.0.0.1:0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString()
      if (out.includes('\n')) resolve()
    })
    child.once('exit', (code) => { reject(new Error(`trove start exited (${String(code)}) before starting: ${out}`)) })
  })
  return child
}

export async function stopNode (child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}
