#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian 12 packages baton's build, tests and demo need.
# Only installs what is missing, so it is cheap to call from every make target.
set -e
# gcc brings the sanitizer runtimes of make check's build-san (gcc-12 ->
# libgcc-12-dev -> libasan8, libubsan1, liblsan0).
PKGS="meson ninja-build pkg-config gcc binutils libglib2.0-dev libjson-glib-dev libslirp-dev python3"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
