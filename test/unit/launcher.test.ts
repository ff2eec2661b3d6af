import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { describe, it } from 'node:test'
import { MIN_NODE_MAJOR, TOO_OLD_HINT, bundledNode, nodeMajor, relaunchIfNodeTooOld, tooOldLine } from '../../src/cli/launcher.js'

describe('the launcher of the trove command', () => {
  it('on a Node new enough it does nothing: no extra process', async () => {
    assert.ok(nodeMajor() >= MIN_NODE_MAJOR, 'the suite itself runs on a Node Trove supports')
    assert.equal(await relaunchIfNodeTooOld('/nonexistent/bin.js'), false)
  })

  it('reads the major version', () => {
    assert.equal(nodeMajor('20.20.2'), 20)
    assert.equal(nodeMajor('24.21.0'), 24)
  })

  it('finds the Node the optional "node" package installed, or says there is none', () => {
    const found = bundledNode()
    if (found !== undefined) assert.match(found, /node_modules\/node\/bin\/node$/)
    assert.equal(bundledNode('file:///nonexistent/dir/x.js'), undefined)
  })

  it('says in one line which version it needs and which it found; npm test\'s first step says the same', async () => {
    const line = tooOldLine('trove')
    assert.ok(!line.includes('\n'))
    assert.ok(line.startsWith(`trove: needs Node.js ${MIN_NODE_MAJOR} or newer, found Node.js ${process.versions.node} (${process.execPath}); `))
    const script = await fs.readFile(new URL('../../../scripts/require-node.mjs', import.meta.url), 'utf8')
    assert.ok(script.includes(`const MIN_NODE_MAJOR = ${MIN_NODE_MAJOR}\n`), 'the same minimum')
    assert.ok(script.includes(`const HINT = '${TOO_OLD_HINT}'\n`), 'the same advice')
    const pkg = JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string>, optionalDependencies?: Record<string, string> }
    assert.match(pkg.scripts.pretest, /^node scripts\/require-node\.mjs /)
    assert.match(pkg.optionalDependencies?.node ?? '', /^\^2[4-9]\./, 'the registry\'s node package, 24 or newer')
  })
})
