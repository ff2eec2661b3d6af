import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatRecord, levelFromEnv, memoryLogger, sinkLogger, type LogRecord } from '../../src/logger.js'

describe('logger', () => {
  it('keeps records at or above its level, per component', () => {
    const logger = memoryLogger('warn')
    const log = logger.forComponent('space')
    log.debug('hidden')
    log.info('hidden too')
    log.warn('a run failed', new Error('boom'))
    log.error('worse')
    assert.deepEqual(logger.records.map(r => [r.level, r.component, r.message]), [['warn', 'space', 'a run failed'], ['error', 'space', 'worse']])
  })

  it('silent drops everything', () => {
    const seen: LogRecord[] = []
    const log = sinkLogger(r => { seen.push(r) }, 'silent').forComponent('x')
    log.error('nothing')
    assert.equal(seen.length, 0)
  })

  it('formats errors by name and code, stacks only when asked', () => {
    const err = Object.assign(new Error('disk gone'), { name: 'StorageFullError', code: 'STORAGE_FULL' })
    const record: LogRecord = { level: 'warn', component: 'refs', message: 'access flush failed', details: [err, { n: 2 }] }
    assert.equal(formatRecord(record), 'warn trove:refs access flush failed StorageFullError [STORAGE_FULL]: disk gone {"n":2}')
    assert.match(formatRecord(record, true), /\n.*at /)
  })

  it('reads TROVE_LOG, falling back to warn for unset or unknown values', () => {
    assert.equal(levelFromEnv({ TROVE_LOG: 'DEBUG' }), 'debug')
    assert.equal(levelFromEnv({ TROVE_LOG: 'loud' }), 'warn')
    assert.equal(levelFromEnv({}), 'warn')
  })
})
