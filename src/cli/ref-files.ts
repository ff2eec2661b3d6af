import { InvalidArgumentError } from '../errors.js'
import { parseUri } from '../uri.js'

/** One blob of a ref, and where `get --ref KEY -o DIR` writes it (a relative path with `/`). */
export interface RefFile {
  path: string
  sha1: string
}

/**
 * Where each blob a ref names goes under `-o DIR`. A `sha1://` string that is the value of an
 * object member is written under that member's name, and the names of the objects around it make
 * directories: `{"raw": {"x.bin": "sha1://..."}}` and `{"raw/x.bin": "sha1://..."}` both give
 * `raw/x.bin`, so a ref made by `trove add --ref` comes back under the names it was added with. A
 * string in an array, or the whole value, takes the file name its URI carries (`sha1://<hash>/<name>`),
 * else its hash. Names that would leave DIR, and two different blobs meeting at one path, are
 * refused before anything is fetched.
 */
export function refFiles (key: string, obj: unknown): RefFile[] {
  const byPath = new Map<string, string>()
  const walk = (value: unknown, segments: string[], named: boolean): void => {
    if (typeof value === 'string') {
      if (!value.startsWith('sha1://')) return
      const uri = parseUri(value)
      const parts = named ? segments : [...segments, ...(uri.name ?? uri.sha1).split('/')]
      const file = checkedPath(key, value, parts)
      const other = byPath.get(file)
      if (other !== undefined && other !== uri.sha1) {
        throw new InvalidArgumentError(`ref ${key} names two different blobs as ${file} (sha1://${other} and sha1://${uri.sha1}); cannot write both to one file`)
      }
      byPath.set(file, uri.sha1)
    } else if (Array.isArray(value)) {
      for (const v of value) walk(v, segments, false)
    } else if (value !== null && typeof value === 'object') {
      for (const [member, v] of Object.entries(value)) walk(v, [...segments, ...member.split('/')], true)
    }
  }
  walk(obj, [], false)
  const files = [...byPath].map(([p, sha1]) => ({ path: p, sha1 })).sort((a, b) => a.path.localeCompare(b.path))
  // `a` and `a/b` cannot both be written: one would have to be a file and a directory at once
  const all = new Set(files.map((f) => f.path))
  for (const f of files) {
    const parts = f.path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (all.has(dir)) throw new InvalidArgumentError(`ref ${key} names ${dir} both as a file and as the directory of ${f.path}`)
    }
  }
  return files
}

function checkedPath (key: string, value: string, parts: string[]): string {
  const bad = parts.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\0'))
  if (bad) throw new InvalidArgumentError(`ref ${key}: ${value} is named ${JSON.stringify(parts.join('/'))}, which is not a path inside the output directory`)
  return parts.join('/')
}
