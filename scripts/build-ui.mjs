#!/usr/bin/env node
/**
 * Builds the web dashboard (src/ui) into dist/ui: one bundled script (esbuild), its stylesheet and
 * page. Part of `npm run build`, so `npm install` (which runs `prepare`) builds it; dist/ is not
 * checked in. The type check is `tsc -p src/ui` (DOM types), which the build runs first.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const src = path.join(root, 'src/ui')
const out = path.join(root, 'dist/ui')

await fs.mkdir(out, { recursive: true })
await build({
  entryPoints: [path.join(src, 'main.ts')],
  bundle: true,
  format: 'iife',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outfile: path.join(out, 'app.js'),
  logLevel: 'warning'
})
for (const file of ['index.html', 'app.css']) await fs.copyFile(path.join(src, file), path.join(out, file))
