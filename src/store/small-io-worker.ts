/**
 * The thread behind SmallFileIo (small-io.ts): runs a batch of small-file operations as plain
 * blocking system calls and answers the batch with one message. See small-io.ts for why.
 */
import { parentPort } from 'node:worker_threads'
import type { IoBatch, IoReply } from './small-io-proto.js'
import { runBatch } from './small-io-run.js'

parentPort?.on('message', (batch: IoBatch) => {
  void runBatch(batch).then(
    (reply) => { parentPort?.postMessage(reply, reply.data !== undefined ? [reply.data] : []) },
    (err: unknown) => {
      const e = err as NodeJS.ErrnoException
      const reply: IoReply = { id: batch.id, errors: Array.from(batch.ops, (_, i) => [i, e?.message ?? String(err), e?.code]) }
      parentPort?.postMessage(reply)
    }
  )
})
