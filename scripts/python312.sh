#!/usr/bin/env bash
# Prints the path of a Python 3.12 or later for libdatachannel's PyPI wheel (aiolibdatachannel
# needs >= 3.12; Debian 12's python3 is 3.11): $RTC_PYTHON312, python3.12/3.13 on PATH, or
# pyenv's. Prints nothing when there is none.
for candidate in "${RTC_PYTHON312:-}" python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
        command -v "$candidate"
        exit 0
    fi
done
