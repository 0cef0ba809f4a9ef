#!/usr/bin/env bash
# Builds the examples in build/ (Release) and runs the demo; arguments go to the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DIPCKIT_BUILD_EXAMPLES=ON
cmake --build build -j"$(nproc)" --target ipckit_examples
exec build/examples/demo "$@"
