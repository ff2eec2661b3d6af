import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatSize, isDuration, parseDuration, parseExpires, parseSize } from '../../src/units.js'

const invalid = { name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT' }

describe('parseSize', () => {
  it('reads decimal and binary units, any case, with or without a space', () => {
    assert.equal(parseSize('500MB'), 500_000_000)
    assert.equal(parseSize('10GiB'), 10 * 1024 ** 3)
    assert.equal(parseSize('1.5GB'), 1_500_000_000)
    assert.equal(parseSize('1.5 GB'), 1_500_000_000)
    assert.equal(parseSize('2kib'), 2048)
    assert.equal(parseSize('3 MiB'), 3 * 1024 ** 2)
    assert.equal(parseSize('1TB'), 1e12)
    assert.equal(parseSize('1TiB'), 1024 ** 4)
    assert.equal(parseSize('7k'), 7000)
    assert.equal(parseSize('2m'), 2_000_000)
    assert.equal(parseSize('1g'), 1e9)
    assert.equal(parseSize('12b'), 12)
    assert.equal(parseSize('  64MB  '), 64_000_000)
  })

  it('reads bare numbers as bytes', () => {
    assert.equal(parseSize('123'), 123)
    assert.equal(parseSize('0'), 0)
    assert.equal(parseSize(1048576), 1048576)
    assert.equal(parseSize(0), 0)
  })

  it('rejects bad input with InvalidArgumentError', () => {
    for (const bad of ['', ' ', 'MB', '-5', '-5MB', '5XB', '5 M B', '1e3', '1,5GB', '.5GB', '5.GB', 'ten', '5MBs', 'Infinity']) {
      assert.throws(() => parseSize(bad), invalid, bad)
    }
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assert.throws(() => parseSize(bad), invalid, String(bad))
    }
  })

  it('rejects sizes too large to count exactly', () => {
    assert.throws(() => parseSize('99999999999999999999TB'), invalid)
  })

  it('formatSize is readable and consistent with parseSize', () => {
    assert.equal(formatSize(0), '0 B')
    assert.equal(formatSize(1023), '1023 B')
    assert.equal(formatSize(1024), '1.00 KiB')
    assert.equal(formatSize(10 * 1024 ** 3), '10.0 GiB')
    assert.equal(parseSize(formatSize(5 * 1024 ** 2).replace(' ', '')), 5 * 1024 ** 2)
  })
})

describe('parseDuration', () => {
  it('reads each unit', () => {
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('45s'), 45_000)
    assert.equal(parseDuration('30m'), 30 * 60_000)
    assert.equal(parseDuration('12h'), 12 * 3_600_000)
    assert.equal(parseDuration('7d'), 7 * 86_400_000)
    assert.equal(parseDuration('1w'), 7 * 86_400_000)
    assert.equal(parseDuration('1.5h'), 90 * 60_000)
    assert.equal(parseDuration(' 2s '), 2000)
  })

  it('reads combinations', () => {
    assert.equal(parseDuration('1d12h'), 36 * 3_600_000)
    assert.equal(parseDuration('1m30s'), 90_000)
    assert.equal(parseDuration('1h1m1s1ms'), 3_661_001)
  })

  it('rejects bad input', () => {
    for (const bad of ['', ' ', '7', 'd', '7 d', '7D', '-1d', '7days', '1d 12h', 'soon', '1y', 'ms']) {
      assert.throws(() => parseDuration(bad), invalid, bad)
      assert.equal(isDuration(bad), false)
    }
    assert.equal(isDuration('7d'), true)
  })
})

describe('parseExpires', () => {
  const now = Date.parse('2026-01-01T00:00:00.000Z')

  it('turns a duration into an ISO time from now', () => {
    assert.equal(parseExpires('7d', now), '2026-01-08T00:00:00.000Z')
    assert.equal(parseExpires('1h30m', now), '2026-01-01T01:30:00.000Z')
  })

  it('normalizes ISO times', () => {
    assert.equal(parseExpires('2026-12-31T00:00:00Z', now), '2026-12-31T00:00:00.000Z')
    assert.equal(parseExpires('2026-12-31', now), '2026-12-31T00:00:00.000Z')
    assert.equal(parseExpires('2026-06-01T12:00:00+02:00', now), '2026-06-01T10:00:00.000Z')
  })

  it('rejects what is neither', () => {
    for (const bad of ['', 'tomorrow', '12', '1', '2026-13-45', 'Dec 31 2026', '31/12/2026', '7 days']) {
      assert.throws(() => parseExpires(bad, now), invalid, bad)
    }
  })
})
