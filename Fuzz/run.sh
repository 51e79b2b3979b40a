#!/usr/bin/env bash
# Runs one fuzz target for a given number of seconds, seeded from Vectors/.
# Usage: Fuzz/run.sh stun|sdp|candidate|signaling SECONDS   (after `make fuzz-build`)
set -euo pipefail
target=${1:?target: stun, sdp, candidate or signaling}
seconds=${2:?seconds}
fuzz=$(cd "$(dirname "$0")" && pwd)
vectors="$fuzz/../Vectors"
corpus="$fuzz/corpus/$target"
seeds="$fuzz/corpus/$target-seeds"
artifacts="$fuzz/artifacts/$target/"
binary="$fuzz/.build/debug/fuzz-$target"
mkdir -p "$corpus" "$seeds" "$artifacts"

case "$target" in
stun) cp "$vectors"/stun/*.bin "$seeds"/ ;;
sdp) cp "$vectors"/sdp/*.sdp "$seeds"/ ;;
candidate)
    # One seed per candidate line found in the SDP vectors and the candidate list.
    n=0
    while IFS= read -r line; do
        n=$((n + 1))
        printf '%s' "$line" > "$seeds/candidate-$n"
    done < <(cat "$vectors"/sdp/*.sdp "$vectors"/candidates/*.txt | tr -d '\r' | grep 'candidate:')
    ;;
signaling) cp "$vectors"/signaling/*.bin "$seeds"/ ;;
*) echo "unknown target $target (stun, sdp, candidate, signaling)" >&2; exit 2 ;;
esac

# SWIFT_BACKTRACE=enable=no: otherwise a Swift trap shows as a false ASan report.
# -timeout: any single input taking over 5 s is a finding (parsers are linear).
# -rss_limit_mb: memory per input is bounded by the parsers' named limits.
SWIFT_BACKTRACE=enable=no "$binary" \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=300000 \
    -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "$seeds"
