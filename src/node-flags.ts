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
 *
 * `--initial-old-space-size=64`: V8 sizes the old generation's collection trigger from the live
 * heap (~16-20 MB here) with a slack of only ~9 MB. A node serving a blob allocates a buffer per
 * disk read and noise frame; when the reader is slower than the link, the ones waiting for the
 * window outlive two young collections, and each such promoted buffer pins a MiB outside the heap
 * until a full collection. The serving node then ran a mark-compact every 70-100 ms, each
 * freeing almost nothing (--trace-gc: 17.0 -> 16.8 MB), and spent 4.5-6.5 CPU-s per GiB served
 * instead of ~2 (perf: a third of its CPU in V8's marking and sweeping), in about half the runs of
 * bench/fetch. With a 64 MB floor under the trigger none of 7 runs did (1.9-2.6 CPU-s/GiB), and a
 * fetching node's peak RSS stayed where it was (136-153 MB for 1 GiB).
 *
 * `--no-concurrent-array-buffer-sweeping`: the ArrayBuffers a young collection finds dead are
 * freed in its pause (a few hundred free() calls, microseconds) instead of by a task V8 posts to
 * a worker thread. On two cores shared by the sender, the receiver and the thread pool that task
 * can run a collection or two late, and meanwhile a fetching node at ~200 MiB/s keeps allocating
 * a buffer per TCP read and noise frame: malloc's main arena, where they all live, grows to that
 * high-water mark and never gives it back. bench/fetch --big: 2 GiB fetches peaked at 142-153 MB
 * against 150-173 MB without (a busier machine, before O_DIRECT writes); 4 GiB at 147-160 against
 * 154-157, the RSS over the fetch 145-150 MB (median) against 150-153. 1 GiB rate and CPU per GiB
 * unchanged (280 against 270 MiB/s, receiver 3.9 against 3.8 CPU-s/GiB: noise).
 */
export const TROVE_NODE_FLAGS = ['--max-semi-space-size=1', '--initial-old-space-size=64', '--no-concurrent-array-buffer-sweeping']
