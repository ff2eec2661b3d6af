"""Limits and defaults of the Python client, each with the reason for its value."""

#: Every route of the node's HTTP API lives under this prefix (src/api/constants.ts API_PREFIX).
API_PREFIX = "/api/v1"

#: File in a data directory that names a running node's API (src/api/constants.ts DISCOVERY_FILE).
DISCOVERY_FILE = "api.json"

#: File in a data directory holding the bearer token for writes (src/datadir.ts layout().apiToken).
TOKEN_FILE = "api-token"

#: Data directory when neither ``data_dir`` nor ``$TROVE_DATA`` says otherwise (src/datadir.ts).
DEFAULT_DATA_DIR = "~/.trove"

#: Same limits as src/refs/constants.ts, so a bad key fails here without a round trip.
MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 128

#: A file name carried into a URI by ``store_*`` (src/api/routes/blobs.ts MAX_NAME_LENGTH).
MAX_NAME_LENGTH = 255

#: Bytes read or written per step when streaming a blob in either direction: the node's own I/O
#: unit (src/store/constants.ts IO_CHUNK_SIZE). Large enough that per-chunk Python overhead is
#: negligible next to the copy, small enough that memory use stays flat whatever the blob's size.
IO_CHUNK_SIZE = 1024 * 1024

#: Chunks that may wait for the hashing thread while a blob streams: enough to ride out a slow
#: moment of either side, few enough that memory stays a few chunks whatever the blob's size.
HASH_QUEUE_CHUNKS = 4

#: How long ``connect`` waits for a discovered node to answer ``GET /status`` before calling it
#: unusable: the CLI's DISCOVERY_TIMEOUT_MS (src/api/constants.ts), for the same reasons.
DISCOVERY_TIMEOUT_S = 2.0

#: Opening a TCP connection to 127.0.0.1 takes microseconds; a few seconds means the node is hung.
CONNECT_TIMEOUT_S = 5.0

#: Longest wait between bytes of a JSON answer. A GC or verify on a large store may take minutes
#: before its answer starts; a node silent for longer than this is treated as hung.
DEFAULT_TIMEOUT_S = 600.0

#: How long ``connect(start=True)`` waits for a started node to answer. ``trove start`` opens the
#: database and the network; on a loaded machine that takes seconds, a minute means it is stuck.
START_TIMEOUT_S = 60.0

#: How often ``connect(start=True)`` looks whether the started node is up yet.
START_POLL_S = 0.1

#: Idle keep-alive connections kept per client: one per thread that uses the client at once is
#: enough; more would only hold sockets the node must also keep.
POOL_SIZE = 8

#: A load shows a progress bar (on a terminal, with tqdm installed) from this size on: smaller
#: blobs arrive before a bar would be readable.
PROGRESS_MIN_BYTES = 16 * 1024 * 1024

#: How often a progress bar asks the node how a fetch from peers is going (the CLI's
#: TRANSFER_POLL_MS in src/cli/commands/get.ts).
TRANSFER_POLL_S = 0.25

#: Pages of ``GET /refs`` asked for by ``get_ref_keys``: the API's largest page
#: (src/api/constants.ts MAX_LIST_LIMIT), so a listing needs as few round trips as possible.
LIST_PAGE = 10_000
