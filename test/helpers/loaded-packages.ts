/**
 * Starts a Trove node in this process with the StartOptions given as JSON in argv[3] (data
 * directory in argv[2]), prints the npm packages the process has loaded as one JSON line, and
 * exits: for tests that optional parts of the network stay unloaded when they are off.
 */
import { registerHooks } from 'node:module'

const packages = new Set<string>()
// before anything of Trove is imported, so every module the node loads passes through here
registerHooks({
  load (url, context, nextLoad) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
    if (m !== null) packages.add(m[1])
    return nextLoad(url, context)
  }
})

const { createTrove } = await import('../../src/node.js')
const trove = await createTrove({ dataDir: process.argv[2], create: true, durable: false })
try {
  await trove.start({ listen: ['/ip4/127.0.0.1/tcp/0'], ...JSON.parse(process.argv[3]) })
  process.stdout.write(`${JSON.stringify([...packages].sort())}\n`)
} finally {
  await trove.close()
}
