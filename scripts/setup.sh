#!/usr/bin/env bash
# Installs what building and testing need, or says exactly how to.
# Debian/Ubuntu: apt-get when run as root, otherwise the command to run.
# macOS: the Homebrew command. Swift itself must already be on PATH.
set -euo pipefail

apt_packages=(libssl-dev libusrsctp-dev pkg-config iproute2)
brew_packages=(openssl@3 libusrsctp pkg-config)

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
    [ ${#missing[@]} -eq 0 ] && exit 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}"
    else
        echo "setup: missing system packages; run:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
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
