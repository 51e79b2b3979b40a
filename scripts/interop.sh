#!/usr/bin/env bash
# Runs the interop suite (Sources/rtc-interop) against headless Chromium and aiortc. As
# root, inside a private network namespace that holds only loopback; elsewhere every case
# is reported as skipped, with the reason. Usage: scripts/interop.sh RTC_BINARY INTEROP_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
rtc=$1
interop=$2
table=.build/interop-table.md
RTC_PYTHON312=$(scripts/python312.sh)
export RTC_PYTHON312

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    echo "interop: running inside a loopback-only network namespace"
    exec unshare -n sh -c "ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 exec '$interop' --rtc '$rtc' --table-file '$table'"
fi
echo "interop: not root or no unshare here; every case is skipped"
exec "$interop" --rtc "$rtc" --table-file "$table"
