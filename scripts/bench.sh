#!/usr/bin/env bash
# Runs the side-by-side benchmarks (Benchmarks/compare.py) inside a private network namespace
# that holds only loopback, and rewrites docs/benchmarks.md. Needs root (for unshare -n).
# Usage: scripts/bench.sh RTC_BINARY INTEROP_BINARY [compare.py options, e.g. --quick or --rounds 3]
# The Python that has the PyPI wheel aiolibdatachannel: found by scripts/python312.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rtc=$1
interop=$2
shift 2

if [ "$(id -u)" -ne 0 ] || ! unshare -n true 2>/dev/null; then
    echo "bench: needs root and unshare -n: every peer runs in a loopback-only network namespace" >&2
    exit 1
fi
echo "bench: running inside a loopback-only network namespace"
exec unshare -n sh -c 'ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 exec python3 Benchmarks/compare.py "$@"' sh \
    --rtc "$rtc" --interop "$interop" --python312 "$(scripts/python312.sh)" "$@"
