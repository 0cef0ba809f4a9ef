#!/usr/bin/env bash
# Builds ipckit with its tests, examples and benchmarks in build/ (Release) and runs ctest.
# This is the test command that README.md gives.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DIPCKIT_BUILD_BENCHMARKS=ON
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j2
