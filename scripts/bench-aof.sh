#!/usr/bin/env bash
# Measures what `appendfsync always` costs against `everysec` for the XADD
# of a typical chat event, on throwaway redis-server instances (nothing else
# is touched). Usage: scripts/bench-aof.sh [requests]
set -euo pipefail
n="${1:-100000}"
dir="$(mktemp -d)"
port=6411
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
payload='{"type":"chat","event_id":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","party_id":"6f6a0a3e-3c1b-4f7e-9a43-7d0f7a1f5e21","user_id":"viewer-123","created_at":"2026-11-27T17:40:00.123Z","text":"hello everyone, this is a typical chat line"}'
echo "mode,pipeline,requests_per_s,p50_ms"
for mode in everysec always; do
  redis-server --port "$port" --daemonize yes --dir "$dir" --appendonly yes --appendfsync "$mode" \
    --save "" --logfile "$dir/redis.log"
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
  for pipeline in 1 16; do
    line=$(redis-benchmark -p "$port" -n "$n" -c 50 -P "$pipeline" --csv XADD 'wp:{bench}:events' '*' e "$payload" | tail -1)
    # The command's name holds commas itself: count the columns from the end
    # (rps, avg, min, p50, p95, p99, max).
    rps=$(echo "$line" | awk -F, '{print $(NF-6)}' | tr -d '"')
    p50=$(echo "$line" | awk -F, '{print $(NF-3)}' | tr -d '"')
    echo "$mode,$pipeline,$rps,$p50"
  done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  while redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
  rm -rf "${dir:?}"/*
done
