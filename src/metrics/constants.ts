/** Every metric's name starts with this, so a Prometheus shared by several programs keeps Trove's apart. */
export const METRIC_PREFIX = 'trove_'

/**
 * Buckets (seconds) of the fetch duration histogram: a small blob from a peer on the LAN takes
 * milliseconds, a large one minutes, and a fetch that finds no provider ends at the find timeout
 * (15 s by default). Twelve buckets keep a scrape small while each decade is still split.
 */
export const FETCH_SECONDS_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 15, 60, 300, 1800]

/**
 * Buckets (seconds) of the GC run duration histogram: a run over a small store ends in
 * milliseconds, one that evicts a million blobs takes minutes.
 */
export const GC_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300]
