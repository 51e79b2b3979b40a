#!/usr/bin/env bash
# Transfers through the `rtc netem` impairment relay (Sources/rtc-interop/Reliability.swift),
# as root inside a private network namespace that holds only loopback; elsewhere it says why
# it cannot run. Usage: scripts/reliability.sh RTC_BINARY INTEROP_BINARY [BYTES]
set -euo pipefail
cd "$(dirname "$0")/.."
rtc=$1
interop=$2
bytes=${3:-67108864}
table=.build/reliability-table.md

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    echo "reliability: running inside a loopback-only network namespace"
    exec unshare -n sh -c "ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 exec '$interop' reliability --rtc '$rtc' --bytes $bytes --table-file '$table'"
fi
echo "reliability: not root or no unshare here; skipped"
