/**
 * Known copies of a blob on other nodes. The network feeds this from what connected peers
 * announce; without a network every blob counts as the only copy.
 */
export interface ReplicaSource {
  /** How many connected peers are known to hold the blob. */
  replicas: (sha1: string) => number
}

export const NO_REPLICAS: ReplicaSource = { replicas: () => 0 }
