#!/usr/bin/env bash
# `make sanitize`: the test suite under ThreadSanitizer, then under AddressSanitizer, then a leak
# check of our own code (LeakSanitizer on `rtc soak`, suppressing only allocations that system
# libraries make once and keep for the life of the process: scripts/lsan-suppressions.txt).
#
# Each sanitizer builds in its own scratch path (.build-tsan, .build-asan), so the normal .build
# is left alone. As root, tests and soak run inside a loopback-only network namespace, as
# scripts/run-tests.sh does; elsewhere the real-socket tests skip, each saying why, and the leak
# check is skipped. Every report of every process (the tests start `rtc` children) goes to
# .build-sanitize/<part>.<pid>, so none is lost in a child's discarded standard error; a part
# fails on any report or any failed test. Usage: scripts/sanitize.sh [thread] [address] [leaks]
# (default: all three). Durations and results are printed at the end (docs/reliability.md).
set -uo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(thread address leaks)
logs=$PWD/.build-sanitize
mkdir -p "$logs"
# Otherwise a Swift trap also shows as a false sanitizer report (as for the fuzzers, Fuzz/run.sh).
export SWIFT_BACKTRACE=enable=no

namespace=0
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then namespace=1; fi

# Runs "$@" inside a loopback-only network namespace when we can make one, else as it is.
isolated() {
    if [ $namespace -eq 1 ]; then
        unshare -n sh -c 'ip link set lo up && RTC_LOOPBACK_NAMESPACE=1 exec "$@"' sh "$@"
    else
        "$@"
    fi
}

summary=()
failed=0

# Reports the sanitizer wrote for part $1 (files $logs/$1.<pid>).
reports() {
    cat "$logs/$1".* 2>/dev/null | grep -cE '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (Address|Leak)Sanitizer)' || true
}

# Builds with --sanitize=$2 in $3, then runs the tests; part name $1, *_OPTIONS in $4.
sanitized_tests() {
    local name=$1 sanitizer=$2 scratch=$3 options=$4
    rm -f "$logs/$name".*
    local start=$SECONDS
    echo "sanitize: $name: building with --sanitize=$sanitizer in $scratch"
    if ! nice -n 10 "$swift" build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" > "$logs/$name-build.log" 2>&1; then
        tail -20 "$logs/$name-build.log"
        summary+=("$name: build failed after $((SECONDS - start)) s (see $logs/$name-build.log)")
        failed=1
        return
    fi
    local built=$SECONDS
    echo "sanitize: $name: running the tests (log: $logs/$name-test.log)"
    # The few tests whose time limits cannot hold under the sanitizer run smaller or skip,
    # printing why (Tests/TestSupport/Sanitizer.swift).
    export RTC_SANITIZER=$sanitizer
    # Bounded: the suite takes ~10 min normally; ThreadSanitizer slows it several times.
    isolated env "$options" timeout --kill-after=30 5400 \
        "$swift" test --skip-build --no-parallel --sanitize="$sanitizer" --scratch-path "$scratch" > "$logs/$name-test.log" 2>&1
    local status=$?
    local found
    found=$(reports "$name")
    local outcome
    outcome=$(grep -E '^(✔|✘|􁁛|􀢄)? ?Test run with [0-9]+ tests?' "$logs/$name-test.log" | tail -1)
    [ -z "$outcome" ] && outcome=$(grep -E 'Test run with|Executed [0-9]+ tests' "$logs/$name-test.log" | tail -1)
    summary+=("$name: build $((built - start)) s, tests $((SECONDS - built)) s, exit status $status, $found sanitizer reports; ${outcome:-no summary line (see $logs/$name-test.log)}")
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then failed=1; fi
}

# LeakSanitizer on a short soak, with the AddressSanitizer build of `rtc`.
leak_check() {
    local start=$SECONDS
    rm -f "$logs/leaks".*
    if [ $namespace -eq 0 ]; then
        summary+=("leaks: skipped (needs root and unshare for a loopback-only namespace)")
        return
    fi
    echo "sanitize: leaks: building rtc with --sanitize=address in .build-asan"
    if ! nice -n 10 "$swift" build --product rtc --sanitize=address --scratch-path .build-asan > "$logs/leaks-build.log" 2>&1; then
        summary+=("leaks: build failed (see $logs/leaks-build.log)")
        failed=1
        return
    fi
    local rtc
    rtc=$("$swift" build --sanitize=address --scratch-path .build-asan --show-bin-path)/rtc
    local built=$SECONDS
    echo "sanitize: leaks: rtc soak --cycles 50 under LeakSanitizer"
    # RSS is not bounded here: AddressSanitizer's allocator keeps freed memory in quarantine, so
    # RSS grows without a leak; what leaked is what LeakSanitizer reports at exit.
    isolated env ASAN_OPTIONS="detect_leaks=1:log_path=$logs/leaks" \
        LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=1" \
        timeout --kill-after=30 900 "$rtc" soak --cycles 50 --sample-every 10 --rss-limit-mib 4096 > "$logs/leaks-soak.log" 2>&1
    local status=$?
    local found
    found=$(reports leaks)
    local suppressed
    suppressed=$(cat "$logs/leaks".* 2>/dev/null | grep -E '^ *[0-9]+ +[0-9]+ ' | awk '{n += $1; b += $2} END {printf "%d allocations (%d bytes) suppressed", n, b}')
    summary+=("leaks: build $((built - start)) s, soak $((SECONDS - built)) s, exit status $status, $found leak reports; ${suppressed:-nothing suppressed}")
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then failed=1; fi
}

for part in "${parts[@]}"; do
    case $part in
        thread) sanitized_tests thread thread .build-tsan "TSAN_OPTIONS=log_path=$logs/thread:halt_on_error=0" ;;
        address) sanitized_tests address address .build-asan "ASAN_OPTIONS=detect_leaks=0:log_path=$logs/address" ;;
        leaks) leak_check ;;
        *) echo "sanitize: unknown part '$part' (thread, address, leaks)"; exit 2 ;;
    esac
done

echo
echo "sanitize: results"
for line in "${summary[@]}"; do echo "  $line"; done
for part in "${parts[@]}"; do
    if [ -n "$(ls "$logs/$part".* 2>/dev/null)" ]; then echo "  reports of $part: $logs/$part.*"; fi
done
exit $failed
