#!/usr/bin/env bash
# Runs rpc_server and rpc_client over one transport (a ctest entry each): directly at the
# address the server prints, or by name through a binder (`ipckit binder`). Exits with 0 only if
# the client ends with "N calls, 0 failed, 0 executed twice" and every program stops cleanly.
#   rpc_example.sh SERVER CLIENT ADDRESS                     the client connects to the address
#   rpc_example.sh SERVER CLIENT ADDRESS IPCKIT BINDER       the server registers as 'calc' at a
#                                                            binder on BINDER, the client finds it
# (%PID% in an address: this script's pid, for a unique name; tcp port 0 becomes a real one)
set -euo pipefail
server=$1 client=$2 address=${3//%PID%/$$}
tool=${4:-} binder=${5:-}
binder=${binder//%PID%/$$}
calls=2000
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT

# started NAME PID PATTERN: waits until NAME's output has a line matching PATTERN, prints it
# (what went wrong goes to stderr, as the caller may capture stdout).
started() {
  for _ in $(seq 600); do
    grep -q -e "$3" "$dir/$1" && break
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q -e "$3" "$dir/$1"; then
    { echo "$1 did not start:"; cat "$dir/$1"; } >&2; exit 1
  fi
  grep -e "$3" "$dir/$1" | head -n 1
}

# stop NAME PID: SIGTERM, and its exit status must be 0.
stop() {
  kill -TERM "$2"
  local status=0
  wait "$2" || status=$?
  cat "$dir/$1"
  if [ "$status" -ne 0 ]; then echo "$1 exited with $status"; exit 1; fi
}

if [ -n "$tool" ]; then
  "$tool" binder --listen "$binder" >"$dir/binder" 2>&1 &
  binder_pid=$!; pids+=("$binder_pid")
  binder=$(started binder "$binder_pid" '^ipckit binder: listening on ' | sed 's/^ipckit binder: listening on //')
  "$server" --listen "$address" --binder "$binder" --name calc >"$dir/server" 2>&1 &
  server_pid=$!; pids+=("$server_pid")
  started server "$server_pid" '^rpc_server: serving as '
  "$client" --binder "$binder" --name calc --calls "$calls" --in-flight 16 | tee "$dir/client"
else
  "$server" --listen "$address" >"$dir/server" 2>&1 &
  server_pid=$!; pids+=("$server_pid")
  real=$(started server "$server_pid" '^rpc_server: listening on ' | sed 's/^rpc_server: listening on //')
  "$client" --connect "$real" --calls "$calls" --in-flight 16 | tee "$dir/client"
fi
grep -qx "$calls calls, 0 failed, 0 executed twice" "$dir/client" || { echo "the client's summary is not clean"; exit 1; }
stop server "$server_pid"
if [ -n "$tool" ]; then
  # the server's orderly stop unregistered its name
  grep -q "^ipckit binder: unregistered 'calc'" "$dir/binder" || { echo "the binder saw no unregister:"; cat "$dir/binder"; exit 1; }
  stop binder "$binder_pid"
fi
