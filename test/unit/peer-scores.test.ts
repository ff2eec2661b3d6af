import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BlobNotFoundError, HashMismatchError, InvalidArgumentError, StorageFullError } from '../../src/errors.js'
import { PeerTimeoutError, ProtocolError } from '../../src/protocols/errors.js'
import { BAN_THRESHOLD, FAULT_BAD_DATA, FAULT_PROTOCOL, FAULT_STALL } from '../../src/transfer/constants.js'
import { PeerScores, faultWeight, isBadData } from '../../src/transfer/scores.js'

describe('faultWeight', () => {
  it('weighs false data most, a broken protocol next, anything else as a stall', () => {
    assert.equal(faultWeight(new HashMismatchError('bad bytes')), FAULT_BAD_DATA)
    assert.equal(faultWeight(new InvalidArgumentError('invalid manifest')), FAULT_BAD_DATA)
    assert.equal(faultWeight(new ProtocolError('bad framing')), FAULT_PROTOCOL)
    assert.equal(faultWeight(new PeerTimeoutError('no data')), FAULT_STALL)
    assert.equal(faultWeight(new BlobNotFoundError('gone')), FAULT_STALL)
    assert.equal(faultWeight(new Error('stream reset')), FAULT_STALL)
    assert.equal(faultWeight(undefined), FAULT_STALL)
    assert.ok(FAULT_BAD_DATA > FAULT_PROTOCOL && FAULT_PROTOCOL > FAULT_STALL)
  })

  it('gives other failures the weight the caller names', () => {
    assert.equal(faultWeight(new StorageFullError('disk full'), 0), 0)
    assert.equal(faultWeight(new PeerTimeoutError('no data'), 0), 0)
    assert.equal(faultWeight(new HashMismatchError('bad bytes'), 0), FAULT_BAD_DATA)
    assert.equal(faultWeight(new ProtocolError('bad framing'), 0), FAULT_PROTOCOL)
  })

  it('matches errors by name, as rebuilt or wrapped ones arrive', () => {
    assert.equal(faultWeight(Object.assign(new Error('x'), { name: 'HashMismatchError' })), FAULT_BAD_DATA)
    assert.equal(faultWeight(Object.assign(new Error('x'), { name: 'ProtocolError' })), FAULT_PROTOCOL)
  })

  it('isBadData: a hash mismatch or an invalid manifest, nothing else', () => {
    assert.ok(isBadData(new HashMismatchError('x')))
    assert.ok(isBadData(new InvalidArgumentError('x')))
    assert.ok(!isBadData(new ProtocolError('x')))
    assert.ok(!isBadData(new Error('x')))
  })
})

describe('PeerScores', () => {
  it('adds weights, bans past the threshold and records the reasons', () => {
    const scores = new PeerScores()
    const now = 1_000_000
    let n = 0
    while (scores.faults('p', now) < BAN_THRESHOLD) {
      assert.ok(!scores.isBanned('p', now))
      scores.fault('p', faultWeight(new HashMismatchError('x')), `bad ${n++}`, now)
    }
    assert.ok(scores.isBanned('p', now))
    assert.equal(scores.reasons('p').at(-1), `bad ${n - 1}`)
  })

  it('records nothing for a weight of 0', () => {
    const scores = new PeerScores()
    scores.fault('p', faultWeight(new StorageFullError('disk full'), 0), 'our disk')
    assert.equal(scores.faults('p'), 0)
    assert.deepEqual(scores.reasons('p'), [])
  })
})
