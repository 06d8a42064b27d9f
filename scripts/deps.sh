#!/usr/bin/env bash
# Install (or name) the Debian packages leec needs to build, test and demo.
# Shared by `make demo` and `make check`.
#   nothing missing        -> exit 0, silent
#   missing, running as root -> apt-get update && apt-get install them
#   missing, not root      -> print the sudo command on stderr, exit 1
set -euo pipefail

PACKAGES=(
    gcc make pkg-config meson ninja-build
    libssl-dev libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
    libldns-dev libpsl-dev libpq-dev libcmocka-dev libyaml-dev scdoc
    pebble bind9 bind9-dnsutils postgresql python3 openssl curl
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$p")
    fi
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    echo "deps.sh: installing: ${missing[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "deps.sh: missing packages; run:" >&2
    echo "sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
