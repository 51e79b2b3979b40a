#!/usr/bin/env bash
# Installs what building (`setup.sh`), testing (`setup.sh test`) or the interop
# suite (`setup.sh interop`) needs, or
# says exactly how to. Debian/Ubuntu: apt-get when run as root, otherwise the
# command to run. macOS: the Homebrew command. Swift must already be on PATH.
set -euo pipefail

mode=${1:-build}
apt_packages=(libssl-dev libusrsctp-dev pkg-config)
brew_packages=(openssl@3 libusrsctp pkg-config)
# The tests also need: `ip` for the loopback-only namespace, coturn as a STUN
# server to gather against, and aioice (PyPI) as a foreign ICE agent.
if [ "$mode" = test ]; then
    apt_packages+=(iproute2 coturn python3 python3-pip)
    brew_packages+=(coturn)
fi
# The interop suite: headless Chromium and aiortc (PyPI) as the peers; Node runs the mesh.js core test.
if [ "$mode" = interop ]; then
    apt_packages+=(iproute2 chromium nodejs python3 python3-pip)
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: Swift 6.2 or later is not on PATH; install it from https://www.swift.org/install/" >&2
    exit 1
fi

case "$(uname -s)" in
Linux)
    missing=()
    for package in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "setup: installing ${missing[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            # coturn's package would start a server at boot; the tests start their own.
            apt-get install -y -qq --no-install-recommends "${missing[@]}"
        else
            echo "setup: missing system packages; run:" >&2
            echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
            exit 1
        fi
    fi
    ;;
Darwin)
    for module in openssl usrsctp; do
        if ! pkg-config --exists "$module" 2>/dev/null; then
            echo "setup: missing $module; run:" >&2
            echo "  brew install ${brew_packages[*]}" >&2
            echo "  export PKG_CONFIG_PATH=\"\$(brew --prefix openssl@3)/lib/pkgconfig:\$PKG_CONFIG_PATH\"" >&2
            exit 1
        fi
    done
    ;;
esac

# Python peers, into the python3 the tests run (or $RTC_PYTHON): aioice for the ICE
# interop tests, aiortc (which brings aioice) for the whole-stack ones.
pip_install() {
    local module=$1 requirement=$2 python=${RTC_PYTHON:-python3}
    if ! "$python" -c "import $module" 2>/dev/null; then
        echo "setup: installing $requirement for $python"
        "$python" -m pip install --quiet "$requirement" 2>/dev/null \
            || "$python" -m pip install --quiet --break-system-packages "$requirement" \
            || { echo "setup: could not install $requirement; run: $python -m pip install '$requirement'" >&2; exit 1; }
    fi
}
if [ "$mode" = test ] || [ "$mode" = interop ]; then
    pip_install aioice 'aioice==0.13.*'
    pip_install aiortc 'aiortc==1.16.*'
fi
# libdatachannel through its PyPI wheel, which needs Python 3.12 or later (pyenv here).
if [ "$mode" = interop ]; then
    python312=$(scripts/python312.sh)
    if [ -n "$python312" ]; then
        RTC_PYTHON=$python312 pip_install aiolibdatachannel aiolibdatachannel
    else
        echo "setup: no Python 3.12 or later (set RTC_PYTHON312 or install one with pyenv); libdatachannel cases will be skipped"
    fi
fi
