import { writer } from 'protons-runtime'

/**
 * Works around an encoder bug in protons-runtime 7.1.2: `uint64` values from 2^31 to 2^32 - 1
 * are written as one byte of garbage plus zero padding (LongBits keeps the low word signed, and
 * the varint writer's `lo > 127` loop never runs for it). A peer then decodes a wrong number or
 * fails to decode at all: every chunk request between 2 and 4 GiB into a blob was refused, and a
 * blob of that size was announced with a wrong size. Found by bench/fetch --big (a 4 GiB fetch
 * stopped at exactly 2 GiB).
 *
 * Safe integers are written with the library's own plain varint encoder instead (the same bytes
 * any correct protobuf encoder writes); larger values keep the original path, which is correct
 * once the high word is non-zero. Decoding is unaffected. Imported for its effect, explicitly, by
 * every module that uses the generated codecs (protocols/<name>/index.ts; a test that encodes
 * with a codec without loading a protocol imports it too).
 *
 * Applies to protons-runtime 7.1.2 (package.json: ^7.1.2), the version it was found in and that
 * the lock file holds. Upstream: https://github.com/ipfs/protons (packages/protons-runtime,
 * src/utils/longbits.ts and writer.ts); no issue there was found for it when this was written,
 * see https://github.com/ipfs/protons/issues. On an upgrade, drop the imports of this file and run
 * test/unit/protocol-specs.test.ts (its uint64 round trip fails while the bug is there), then
 * delete this file once it passes.
 */
interface Uint64Writer {
  uint64: (value: bigint) => unknown
  uint64Number: (value: number) => unknown
}

const proto = Object.getPrototypeOf(writer()) as Uint64Writer
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const original = proto.uint64
if (!(original as { troveFixed?: boolean }).troveFixed) {
  const fixed = function (this: Uint64Writer, value: bigint): unknown {
    if (value >= 0n && value <= MAX_SAFE) return this.uint64Number(Number(value))
    return original.call(this, value)
  }
  ;(fixed as { troveFixed?: boolean }).troveFixed = true
  proto.uint64 = fixed
}

export const UINT64_FIX_APPLIED = true
