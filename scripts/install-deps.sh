#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building and testing ipckit needs, those that
# are missing only. Run by scripts/test.sh and scripts/demo.sh.
set -euo pipefail

packages=(g++ cmake libboost-dev catch2)

if ! command -v dpkg >/dev/null 2>&1; then
  echo "install-deps: no dpkg, so not a Debian system; make sure these are installed:" >&2
  echo "  g++ 12 or later (C++20), cmake 3.21 or later, Boost 1.74 or later (headers), Catch2" >&2
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
((${#missing[@]})) || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing packages, and no apt-get to install them: ${missing[*]}" >&2
  exit 1
fi
sudo=()
if ((EUID != 0)); then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing packages, and neither root nor sudo; as root run:" >&2
    echo "  apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
