#!/usr/bin/env bash
# Runs one fuzz target for a given number of seconds, seeded from Vectors/.
# Usage: Fuzz/run.sh stun|sdp|candidate|signaling|dcep|ice SECONDS   (after `make fuzz-build`)
set -euo pipefail
target=${1:?target: stun, sdp, candidate, signaling, dcep or ice}
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
dcep) cp "$vectors"/dcep/*.bin "$seeds"/ ;;
ice) cp "$vectors"/ice/*.bin "$seeds"/ ;;
*) echo "unknown target $target (stun, sdp, candidate, signaling, dcep, ice)" >&2; exit 2 ;;
esac

# -timeout: any single input taking over 5 s is a finding (parsers are linear). The state
# machines (dcep, ice, signaling) run sequences of up to hundreds of operations per input, and
# libFuzzer's timeout is wall-clock: at `nice -n 19` on a shared 2-core machine, an input of
# 0.2 s CPU took 7 s while a build ran. 30 s still catches a quadratic blow-up.
timeout=5
case "$target" in dcep | ice | signaling) timeout=30 ;; esac

# SWIFT_BACKTRACE=enable=no: otherwise a Swift trap shows as a false ASan report.
# -rss_limit_mb: memory per input is bounded by the parsers' named limits.
SWIFT_BACKTRACE=enable=no "$binary" \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 -max_len=300000 \
    -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$corpus" "$seeds"
