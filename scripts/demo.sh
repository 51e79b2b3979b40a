#!/usr/bin/env bash
# `make demo` for now: the rtc tool's codec commands on the vectors.
# (A later issue turns this into two peers exchanging data.)
set -euo pipefail
rtc=${1:?path to the rtc binary}
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step rtc sdp Vectors/sdp/chromium-datachannel-offer.sdp
"$rtc" sdp Vectors/sdp/chromium-datachannel-offer.sdp

step rtc sdp --roundtrip Vectors/sdp/aiortc-datachannel-answer.sdp
"$rtc" sdp --roundtrip Vectors/sdp/aiortc-datachannel-answer.sdp

step rtc stun --password VOkJxbRl1RmTxUk/WvJxBt Vectors/stun/rfc5769-request.bin
"$rtc" stun --password VOkJxbRl1RmTxUk/WvJxBt Vectors/stun/rfc5769-request.bin

step rtc stun --password VOkJxbRl1RmTxUk/WvJxBt Vectors/stun/rfc5769-response-ipv6.bin
"$rtc" stun --password VOkJxbRl1RmTxUk/WvJxBt Vectors/stun/rfc5769-response-ipv6.bin

step "rtc stun --long-term --password TheMatrIX Vectors/stun/rfc5769-request-long-term.bin"
"$rtc" stun --long-term --password TheMatrIX Vectors/stun/rfc5769-request-long-term.bin

step "printf 'v=0\\\\r\\\\nbogus\\\\r\\\\n' | rtc sdp -   (invalid input: exit status 1 and the reason)"
if printf 'v=0\r\nbogus\r\n' | "$rtc" sdp -; then
    echo "expected a failure" >&2
    exit 1
else
    echo "exit status $?"
fi
