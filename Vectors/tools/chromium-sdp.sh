#!/bin/sh
# Regenerates the Chromium vectors in Vectors/sdp inside a loopback-only
# network namespace (run as root). Flags as measured in shared FACTS.md:
# without them Chromium gathers no candidate on loopback.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../sdp"
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
# Chromium keeps running after the page is done: wait (bounded) for the page's
# last line, then stop the browser by the PID this script started.
unshare -n sh -c "ip link set lo up
  /usr/lib/chromium/chromium --headless=new --no-sandbox --user-data-dir=$profile \
    --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream \
    --use-fake-device-for-media-stream --disable-features=WebRtcHideLocalIpsWithMdns \
    --enable-logging=stderr --v=0 file://$here/chromium-sdp.html >$log 2>&1 &
  browser=\$!
  for _ in \$(seq 60); do grep -q VECTOR-DONE $log && break; sleep 0.5; done
  kill \$browser; wait \$browser" || true
grep -q VECTOR-DONE "$log" || { echo "chromium did not finish:"; grep -E 'VECTOR|ERROR' "$log" | head; exit 1; }
version=$(/usr/lib/chromium/chromium --version)
grep -o 'VECTOR [a-z0-9-]* [A-Za-z0-9+/=]*' "$log" | while read -r _ name data; do
  case "$name" in
  *-candidates) file="$here/../candidates/$name.txt" ;;
  *) file="$out/$name.sdp" ;;
  esac
  echo "$data" | base64 -d > "$file"
  echo "wrote $file ($version)"
done
