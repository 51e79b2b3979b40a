# The two commands of the README: `make demo` and `make test`. Each does its
# own set-up (scripts/setup.sh installs missing system packages when root).

SWIFT ?= swift
# Fuzzing: `make fuzz TARGET=stun SECONDS=600` (targets: stun, sdp, candidate, signaling, dcep, ice).
TARGET ?= stun
SECONDS ?= 60
BYTES ?= 67108864

RTC_RELEASE := .build/release/rtc

.PHONY: all setup build test demo interop reliability sanitize bench fuzz fuzz-build bench-codecs bench-check clean

all: build

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

test:
	@scripts/setup.sh test
	$(SWIFT) build --build-tests
	scripts/run-tests.sh

demo: setup
	$(SWIFT) build -c release --product rtc
	scripts/demo.sh $(RTC_RELEASE)

# The interop suite: our stack against headless Chromium and aiortc, and a browser mesh
# through `rtc signal`, inside a loopback-only namespace; prints the table of docs and README.
interop:
	@scripts/setup.sh interop
	$(SWIFT) build -c release --product rtc
	$(SWIFT) build -c release --product rtc-interop
	scripts/interop.sh $(RTC_RELEASE) .build/release/rtc-interop

# Transfers of 64 MiB (BYTES=) through the `rtc netem` impairment relay (loss, delay and
# reordering, duplication, combined, 30 % loss, a 10 s blackout), SHA-256 checked, then `rtc soak`:
# 1 000 open/close cycles in one process that must give back every fd, thread, SCTP association
# and the memory; inside a loopback-only namespace: docs/reliability.md. The slowest transfer
# takes over half an hour at 64 MiB.
reliability: setup
	$(SWIFT) build -c release --product rtc
	$(SWIFT) build -c release --product rtc-interop
	scripts/reliability.sh $(RTC_RELEASE) .build/release/rtc-interop $(BYTES)

# The tests under ThreadSanitizer and under AddressSanitizer (each in its own scratch path,
# .build-tsan and .build-asan), then LeakSanitizer on `rtc soak` with suppressions for system
# libraries only; slow (the first builds take a while): docs/reliability.md, "Sanitizers".
sanitize:
	@scripts/setup.sh test
	SWIFT=$(SWIFT) scripts/sanitize.sh

# Side by side, one run: our stack, libdatachannel, aiortc and Chromium on the same workloads,
# inside a loopback-only namespace; prints the table and rewrites docs/benchmarks.md.
bench:
	@scripts/setup.sh interop
	$(SWIFT) build -c release --product rtc
	$(SWIFT) build -c release --product rtc-interop
	scripts/bench.sh $(RTC_RELEASE) .build/release/rtc-interop

fuzz-build: setup
	cd Fuzz && $(SWIFT) build -c debug --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address --product fuzz-$(TARGET)

fuzz: fuzz-build
	Fuzz/run.sh $(TARGET) $(SECONDS)

# Codec micro-benchmarks (wall time, throughput, mallocs per operation); a
# separate package, so its first build takes several minutes. Every benchmark,
# DTLS, SCTP and data channels included: `cd Benchmarks && swift package benchmark`.
bench-codecs: setup
	cd Benchmarks && $(SWIFT) package benchmark --no-progress --target Codecs

# Every benchmark against the thresholds stored in Benchmarks/Thresholds
# (allocations tightly, time loosely); fails on a regression. See Benchmarks/README.md.
bench-check: setup
	SWIFT=$(SWIFT) Benchmarks/check-thresholds.sh

clean:
	rm -rf .build .build-tsan .build-asan .build-sanitize Fuzz/.build Benchmarks/.build
