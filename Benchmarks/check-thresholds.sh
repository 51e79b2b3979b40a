#!/usr/bin/env bash
# Runs every benchmark and compares each metric's p90 with the thresholds stored in
# Thresholds/*.json, within the tolerances of Sources/BenchmarkSupport (what `make bench-check`
# runs). Extra arguments go to `swift package benchmark thresholds check` (e.g. --target Codecs);
# $SWIFT names the toolchain's driver (default: swift).
#
# Exit status: 0 when nothing is worse than its threshold, 1 otherwise (a regression, a crash,
# a build failure). The plugin also fails when a metric is merely BETTER than its threshold
# beyond the tolerance; that is no regression, so it passes here with a note to store the new
# figures.
set -uo pipefail
cd "$(dirname "$0")"

log=$(mktemp)
trap 'rm -f "$log"' EXIT

"${SWIFT:-swift}" package benchmark thresholds check --no-progress "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

if [ "$status" -eq 0 ]; then
    exit 0
fi
# The plugin reports its outcome as `error: <case>` (benchmark 1.38.1, BenchmarkCommandPlugin).
if grep -q "error: benchmarkThresholdImprovement" "$log" && ! grep -q "error: benchmarkThresholdRegression" "$log"; then
    echo
    echo "bench-check: no regression; some figures are better than their thresholds. To store them:"
    echo "  cd Benchmarks && swift package --allow-writing-to-package-directory benchmark thresholds update"
    exit 0
fi
echo
echo "bench-check: FAILED (exit status $status): a benchmark regressed beyond its tolerance, or did not run."
exit 1
