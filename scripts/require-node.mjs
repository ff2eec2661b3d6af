// `npm test` runs this first (the "pretest" script), before anything is built or loaded: the
// suite needs Node.js 22 or newer (src/cli/launcher.ts says why; the `trove` command checks the
// same itself, and a unit test keeps the two equal). npm runs scripts with node_modules/.bin
// first on PATH, where `npm install` put Node.js 24 (the optional "node" package from the npm
// registry), so an older Node on PATH gets here only when that install did not happen; then this
// says so in one line.
const MIN_NODE_MAJOR = 22
const HINT = '"npm install" in the trove checkout installs Node.js 24 from the npm registry for it (the optional "node" package), or install Node.js 22+'
const what = process.argv[2] ?? 'trove'
if (Number(process.versions.node.split('.')[0]) < MIN_NODE_MAJOR) {
  process.stderr.write(`${what}: needs Node.js ${MIN_NODE_MAJOR} or newer, found Node.js ${process.versions.node} (${process.execPath}); ${HINT}\n`)
  process.exit(1)
}
