#!/usr/bin/env bash
# Runs socket_server on ADDRESS and two socket_clients against the address it prints (a
# ctest entry per transport): exits with 0 only if the clients and the server all did.
#   socket_example.sh SERVER CLIENT ADDRESS     (%PID% in ADDRESS: this script's pid, for a unique name)
set -euo pipefail
server=$1 client=$2 address=${3//%PID%/$$}
out=$(mktemp)
"$server" --listen "$address" --clients 2 >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
# The server prints its address once it listens (port 0 becomes the real one).
for _ in $(seq 600); do
  grep -q '^listening on ' "$out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
real=$(sed -n 's/^listening on //p' "$out" | head -n 1)
if [ -z "$real" ]; then
  echo "socket_server printed no address:"; cat "$out"; exit 1
fi
echo "listening on $real"
"$client" --connect "$real" --count 20000 --size 100
"$client" --connect "$real" --count 500 --size 65536 --window 4
status=0
wait "$pid" || status=$?
cat "$out"
exit "$status"
