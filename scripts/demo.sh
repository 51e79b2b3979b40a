#!/usr/bin/env bash
# `make demo`: two peers on loopback exchange messages and a verified file (rtc demo),
# then a glance at the codec commands.
set -euo pipefail
rtc=${1:?path to the rtc binary}
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step rtc demo
# As root, inside a private network namespace that holds only loopback, so nothing can leave
# the machine; elsewhere the demo still gathers on loopback only.
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    unshare -n sh -c 'ip link set lo up && exec "$0" demo' "$rtc"
else
    "$rtc" demo
fi

step rtc sdp --roundtrip Vectors/sdp/aiortc-datachannel-answer.sdp
"$rtc" sdp --roundtrip Vectors/sdp/aiortc-datachannel-answer.sdp

step rtc stun --password VOkJxbRl1RmTxUk/WvJxBt Vectors/stun/rfc5769-response-ipv6.bin
"$rtc" stun --password VOkJxbRl1RmTxUk/WvJxBt Vectors/stun/rfc5769-response-ipv6.bin
