#!/usr/bin/env bash
# A/B benchmark: runs every bench in bench/ on two built checkouts (BEFORE and AFTER, each with
# dist/ built), alternating A, B, A, B... so load from elsewhere on the machine hits both alike.
# Each run's JSON goes to OUT/<bench>.<label>.<round>.json; the figures are compared by hand or
# with `node scripts/bench-ab-summary.mjs OUT`.
#
#   scripts/bench-ab.sh BEFORE_DIR AFTER_DIR OUT_DIR [ROUNDS]
#
# Sizes are cut from the benches' defaults so a full A/B fits in about 20 minutes; the benches
# report ratios against ceilings measured in the same run, which is what is compared.
set -euo pipefail
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd); out=$3; rounds=${4:-2}
mkdir -p "$out"
benches=(
  "ingest --size 256MiB --runs 3"
  "refs --keys 100000 --seconds 3"
  "small"
  "fetch --size 256MiB --runs 3 --no-ceilings --windows 16MiB"
  "space --sizes 100000"
)
for round in $(seq 1 "$rounds"); do
  for spec in "${benches[@]}"; do
    name=${spec%% *}; args=${spec#"$name"}
    for side in before after; do
      dir=$before; [ "$side" = after ] && dir=$after
      echo "round $round: $name ($side)" >&2
      (cd "$dir" && node "dist/bench/$name.js" $args) > "$out/$name.$side.$round.json" 2> "$out/$name.$side.$round.log" \
        || echo "  $name ($side) failed: see $out/$name.$side.$round.log" >&2
    done
  done
done
