#!/usr/bin/env bash
# Runs the built test suite. As root, inside a private network namespace that
# holds only loopback, so that real-socket tests can run and no test can reach
# beyond 127.0.0.1 and ::1. Elsewhere the real-socket tests skip, each saying why.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
    echo "run-tests: running the tests inside a loopback-only network namespace"
    exec unshare -n sh -c 'ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 exec swift test --skip-build --no-parallel'
fi
echo "run-tests: not root or no unshare here; real-socket tests will be skipped, each printing its reason"
exec swift test --skip-build --no-parallel
