#!/bin/sh
# tools/deps.sh - make sure what coloop builds with is installed.
#
# Needs: a C compiler and libc headers, pkg-config, OpenSSL 3 headers
# (libssl-dev) and the Check unit-test framework (check).  On Debian/Ubuntu as
# root it installs what is missing with apt-get; otherwise it prints the exact
# command to run and fails.  `make` calls it before building anything.
set -u

missing=""
need() { missing="$missing $1"; }

if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    need gcc
fi
[ -f /usr/include/stdio.h ] || need libc6-dev
if command -v pkg-config >/dev/null 2>&1; then
    pkg-config --exists openssl 2>/dev/null || need libssl-dev
    pkg-config --exists check 2>/dev/null || need check
else
    need pkg-config
    need libssl-dev
    need check
fi

[ -z "$missing" ] && exit 0

cmd="apt-get update && apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "coloop: installing missing build dependencies:$missing"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -q && apt-get install -y -q --no-install-recommends $missing; then
        exit 0
    fi
    echo "coloop: apt-get could not install:$missing" >&2
    exit 1
fi
echo "coloop: missing build dependencies:$missing" >&2
if command -v apt-get >/dev/null 2>&1; then
    if command -v sudo >/dev/null 2>&1; then
        echo "coloop: install them with:  sudo sh -c '$cmd'" >&2
    else
        echo "coloop: install them as root with:  sh -c '$cmd'" >&2
    fi
else
    echo "coloop: install a C compiler, pkg-config, OpenSSL 3 development files and Check" >&2
fi
exit 1
