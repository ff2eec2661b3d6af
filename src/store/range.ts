import { InvalidArgumentError, RangeNotSatisfiableError } from '../errors.js'

/**
 * The bytes a read of `range` covers in a blob of `size` bytes: from `offset` (default 0) for
 * `length` bytes (default: to the end). A range that reaches past the end is refused
 * (RangeNotSatisfiableError), not shortened; an empty range at the very end is allowed.
 */
export function resolveRange (size: number, range: { offset?: number, length?: number }): { offset: number, length: number } {
  const offset = range.offset ?? 0
  const length = range.length ?? Math.max(0, size - offset)
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new InvalidArgumentError('range offset and length must be non-negative integers')
  }
  if (offset > size || offset + length > size) {
    throw new RangeNotSatisfiableError(`range ${offset}+${length} is outside blob of ${size} bytes`)
  }
  return { offset, length }
}
