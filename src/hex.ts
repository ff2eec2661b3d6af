const HEX40 = /^[0-9a-f]{40}$/

/**
 * Whether a value is a sha1 as every URI writes it: 40 lowercase hex characters. Its own file so
 * that the directory format (src/dirs) and uri.ts, which finds sha1dir:// references, can both use
 * it without importing each other.
 */
export function isSha1Hex (value: string): boolean {
  return HEX40.test(value)
}
