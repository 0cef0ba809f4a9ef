#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages that building and testing ipckit needs, those that
# are missing only. Run by scripts/test.sh and scripts/demo.sh.
#
#   install-deps.sh [--clang] [--bench]
#
# --clang also installs clang (clang++ 14 on Debian 12), the second compiler that CI builds
# and tests ipckit with (.ci/run), and its sanitizer runtimes (libclang-rt-dev: clang only
# recommends them), for CI's ASan, UBSan and TSan builds.
# --bench also installs the benchmark's peers, which the tests never need (bench/README.md):
# libzmq3-dev, ZeroMQ, the peer of the socket rows (ipckit_bench --sockets), and gRPC with its
# stub compilers (libgrpc++-dev, libprotobuf-dev, protobuf-compiler-grpc), the peer of the call
# rows (ipckit_bench --rpc).
set -euo pipefail

packages=(g++ cmake libboost-dev catch2 libcli11-dev nlohmann-json3-dev libmsgpack-cxx-dev)
clang=no
bench=no
for arg in "$@"; do
  case "$arg" in
    --clang)
      clang=yes
      packages+=(clang libclang-rt-dev)
      ;;
    --bench)
      bench=yes
      packages+=(libzmq3-dev libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc)
      ;;
    *)
      echo "install-deps: unknown option '$arg'; the options are --clang and --bench" >&2
      exit 2
      ;;
  esac
done

if ! command -v dpkg >/dev/null 2>&1; then
  echo "install-deps: no dpkg, so not a Debian system; make sure these are installed:" >&2
  echo "  g++ 12 or later (C++20), cmake 3.21 or later, Boost 1.74 or later (headers), Catch2," >&2
  echo "  msgpack-cxx 4 (headers; the rpc tests and the ipckit command), and for the ipckit command CLI11 and nlohmann/json" >&2
  if [[ $clang == yes ]]; then echo "  and clang++ 14 or later, with its sanitizer runtimes (compiler-rt)" >&2; fi
  if [[ $bench == yes ]]; then
    echo "  and for the benchmark's ZeroMQ rows libzmq (3.x API, 4.x library) with its headers," >&2
    echo "  for its gRPC rows gRPC C++ with its CMake package, protobuf, protoc and grpc_cpp_plugin" >&2
  fi
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
