#!/usr/bin/env bash
# Transfers through the `rtc netem` impairment relay (Sources/rtc-interop/Reliability.swift),
# then `rtc soak` (1 000 open/close cycles in one process; SOAK_CYCLES to change), as root inside
# a private network namespace that holds only loopback; elsewhere it says why it cannot run.
# Fails if either fails. Usage: scripts/reliability.sh RTC_BINARY INTEROP_BINARY [BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
rtc=$1
interop=$2
bytes=${3:-67108864}
soak_cycles=${SOAK_CYCLES:-1000}
table=.build/reliability-table.md

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    echo "reliability: running inside a loopback-only network namespace"
    status=0
    unshare -n sh -c "ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 exec '$interop' reliability --rtc '$rtc' --bytes $bytes --table-file '$table'" || status=$?
    echo "reliability: rtc soak, $soak_cycles open/close cycles (docs/reliability.md, Soak)"
    # Bounded: ~30 ms a cycle in release; the soak also bounds each cycle itself.
    unshare -n sh -c "ip link set lo up && exec timeout --kill-after=10 900 '$rtc' soak --cycles $soak_cycles" || status=$?
    exit $status
fi
echo "reliability: not root or no unshare here; skipped"
