/**
 * V8 flags the `trove` command runs Node with (its launcher line in src/cli/bin.ts, kept equal by
 * test/unit/node-flags.test.ts; bench/fetch.ts starts its Trove processes with them too).
 *
 * `--max-semi-space-size=1`: a 1 MiB young generation instead of V8's 16 MiB. A transfer
 * allocates a buffer per received TCP read and noise frame (libp2p's, not ours); they die young,
 * but V8 frees an ArrayBuffer only when a collection runs, and with a 16 MiB young generation
 * that is rare enough that ~80 MB of dead buffers piled up and the young generation itself grew
 * by 32 MB: a 4 GiB fetch peaked at 220-237 MB RSS against ~105 MB idle (bench/fetch --big).
 * With 1 MiB, collections come often and stay cheap (little survives them): the peak fell to
 * 165-183 MB and idle to ~94 MB; rates did not drop, and the two Trove processes' CPU per GiB
 * fetched was 10.0-12.1 s against 11.5-13.1 s without (docs/performance.md, Memory).
 */
export const TROVE_NODE_FLAGS = ['--max-semi-space-size=1']
