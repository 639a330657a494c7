#!/usr/bin/env bash
# run.sh is `make run`: the whole stack on this machine, in the foreground.
#
#  1. checks (and as root on Debian installs) Go, redis-server and PostgreSQL (scripts/deps.sh);
#  2. builds bin/gateway, bin/flusher and bin/wpclient;
#  3. uses the Redis at REDIS_URL and the PostgreSQL at DATABASE_URL when they answer,
#     otherwise starts local ones under .run/ (and stops them again on exit);
#  4. runs `flusher migrate`, upserts an ONGOING demo party playing the gateway's sample video;
#  5. runs gateway (dev auth on) and flusher (flush every 10s), prints the URL to open in a
#     browser and how to connect from a terminal, and waits. Ctrl-C stops everything this
#     script started.
#
# Settings are the SPEC's environment variables (REDIS_URL, DATABASE_URL, GATEWAY_ADDR,
# FLUSHER_METRICS_ADDR, WATCH_PARTY_*); PARTY_ID picks the demo party's id.
# Logs: the terminal (prefixed) and .run/gateway.log, .run/flusher.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
RUN_DIR="$ROOT/.run"
WP="$ROOT/bin/wpclient"

export REDIS_URL="${REDIS_URL:-redis://localhost:6379/0}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@localhost:5432/watchparty?sslmode=disable}"
export GATEWAY_ADDR="${GATEWAY_ADDR:-:8080}"
export FLUSHER_METRICS_ADDR="${FLUSHER_METRICS_ADDR:-:9090}"
export LOG_FORMAT="${LOG_FORMAT:-text}"
PARTY_ID="${PARTY_ID:-11111111-1111-1111-1111-111111111111}"

if [[ -t 2 ]]; then bold=$'\033[1m' reset=$'\033[0m'; else bold="" reset=""; fi
log() { printf '%srun:%s %s\n' "$bold" "$reset" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- URL helpers (URL form only: scheme://[user[:pass]@]host[:port][/path][?query]) ---

url_hostport() {
  local rest="${1#*://}"
  rest="${rest%%[/?]*}"
  printf '%s' "${rest##*@}"
}
url_host() {
  local hp
  hp="$(url_hostport "$1")"
  if [[ "$hp" == \[* ]]; then hp="${hp%%]*}"; printf '%s' "${hp#[}"; else printf '%s' "${hp%%:*}"; fi
}
url_port() { # URL DEFAULT
  local hp
  hp="$(url_hostport "$1")"
  if [[ "$hp" =~ :([0-9]+)$ ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf '%s' "$2"; fi
}
url_user() {
  local rest="${1#*://}"
  rest="${rest%%[/?]*}"
  [[ "$rest" == *@* ]] || return 0
  rest="${rest%@*}"
  printf '%s' "${rest%%:*}"
}
is_local_host() {
  case "$1" in "" | localhost | 127.* | ::1) return 0 ;; *) return 1 ;; esac
}
# addr_port ":8080" / "0.0.0.0:8080" / "localhost:8080" -> 8080
addr_port() { printf '%s' "${1##*:}"; }
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- processes this script started, stopped by cleanup ---

pids=()
declare -A names=()
started_redis=false
started_pg=false
pg_bindir="" pg_datadir="" pg_log=""
as_pg=()

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  trap '' INT TERM # a second Ctrl-C must not cut the shutdown short
  if ((${#pids[@]} > 0)); then
    log "stopping ${names[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait_gone 15 "${pids[@]}" || kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  if $started_redis; then
    log "stopping the Redis this script started"
    local rpid
    rpid="$(cat "$RUN_DIR/redis/redis.pid" 2>/dev/null || true)"
    if [[ -n "$rpid" ]]; then
      kill -TERM "$rpid" 2>/dev/null || true
      wait_gone 10 "$rpid" || kill -KILL "$rpid" 2>/dev/null || true
    fi
  fi
  if $started_pg; then
    log "stopping the PostgreSQL this script started"
    "${as_pg[@]}" "$pg_bindir/pg_ctl" -D "$pg_datadir" -m fast -w -t 20 stop >/dev/null 2>&1 ||
      log "pg_ctl stop failed; see $pg_log"
  fi
  exit "$rc"
}

# wait_gone SECONDS PID...: true once none of the processes is alive.
# shellcheck disable=SC2317 # called from cleanup
wait_gone() {
  local deadline=$((SECONDS + $1)) pid alive
  shift
  while ((SECONDS < deadline)); do
    alive=false
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || return 0
    sleep 0.2
  done
  return 1
}

# --- dependencies and binaries ---

build() {
  command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
  bash scripts/deps.sh
  log "building bin/ (go build ./cmd/...)"
  go build -o bin/ ./cmd/...
  local b
  for b in gateway flusher wpclient; do
    [[ -x "bin/$b" ]] || die "bin/$b was not built (is cmd/$b there yet?)"
  done
}

# --- Redis ---

ensure_redis() {
  if "$WP" ping -q --redis-url "$REDIS_URL" 2>/dev/null; then
    log "using the Redis at $REDIS_URL"
    return
  fi
  local host port
  host="$(url_host "$REDIS_URL")"
  port="$(url_port "$REDIS_URL" 6379)"
  if [[ "$REDIS_URL" != redis://* ]] || ! is_local_host "$host"; then
    die "Redis at $REDIS_URL does not answer, and it is not a local redis:// URL this script could start"
  fi
  port_in_use "$port" && die "port $port is taken by something that is not a usable Redis"
  mkdir -p "$RUN_DIR/redis"
  log "starting redis-server on port $port (data in .run/redis, log .run/redis.log)"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" \
    --dir "$RUN_DIR/redis" --pidfile "$RUN_DIR/redis/redis.pid" --logfile "$RUN_DIR/redis.log" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction >/dev/null
  started_redis=true
  "$WP" ping -q --redis-url "$REDIS_URL" --wait 15s || die "the Redis started here does not answer; see .run/redis.log"
}

# --- PostgreSQL ---

find_pg_bindir() {
  local dirs=(/usr/lib/postgresql/*/bin/initdb) newest
  if [[ -x "${dirs[0]}" ]]; then
    newest="$(printf '%s\n' "${dirs[@]}" | sort -V | tail -n1)"
    dirname "$newest"
    return
  fi
  command -v initdb >/dev/null 2>&1 || return 1
  dirname "$(readlink -f "$(command -v initdb)")"
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
prepare_pg_dirs() {
  pg_datadir="$RUN_DIR/pg"
  pg_log="$RUN_DIR/postgres.log"
  mkdir -p "$pg_datadir"
  if [[ "$(id -u)" != 0 ]]; then
    chmod 700 "$pg_datadir"
    return
  fi
  id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user (apt-get install postgresql creates it)"
  as_pg=(runuser -u postgres --)
  chown postgres: "$pg_datadir" && chmod 700 "$pg_datadir"
  touch "$pg_log" && chown postgres: "$pg_log"
  if ! "${as_pg[@]}" test -w "$pg_datadir" -a -w "$pg_log"; then
    # The postgres user cannot reach .run/ (a repository under /root, say).
    pg_datadir="/tmp/watchparty-pg.$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
    pg_log="$pg_datadir.log"
    log "the postgres user cannot write to $RUN_DIR; using $pg_datadir"
    mkdir -p "$pg_datadir" && touch "$pg_log"
    chown postgres: "$pg_datadir" "$pg_log" && chmod 700 "$pg_datadir"
  fi
}

ensure_postgres() {
  if "$WP" ping -q --database-url "$DATABASE_URL" 2>/dev/null; then
    log "using the PostgreSQL at $(url_hostport "$DATABASE_URL")"
    return
  fi
  local host port user
  host="$(url_host "$DATABASE_URL")"
  port="$(url_port "$DATABASE_URL" 5432)"
  user="$(url_user "$DATABASE_URL")"
  user="${user:-$(id -un)}"
  if [[ "$DATABASE_URL" != postgres*://* ]] || ! is_local_host "$host"; then
    die "PostgreSQL at $DATABASE_URL does not answer, and it is not a local postgres:// URL this script could start"
  fi
  port_in_use "$port" && die "port $port is taken by something that does not answer as PostgreSQL for $DATABASE_URL"
  pg_bindir="$(find_pg_bindir)" || die "no PostgreSQL server binaries (initdb) found"
  prepare_pg_dirs
  if [[ ! -s "$pg_datadir/PG_VERSION" ]]; then
    log "initdb: new cluster in $pg_datadir (superuser $user, trust auth)"
    "${as_pg[@]}" "$pg_bindir/initdb" -D "$pg_datadir" -U "$user" --auth=trust -E UTF8 --no-locale >>"$pg_log" 2>&1 ||
      die "initdb failed; see $pg_log"
  fi
  log "starting PostgreSQL on port $port (log $pg_log)"
  # No Unix socket: clients use TCP, and nothing collides with a system cluster's socket.
  "${as_pg[@]}" "$pg_bindir/pg_ctl" -D "$pg_datadir" -l "$pg_log" -w -t 30 \
    -o "-p $port -c listen_addresses=localhost -c unix_socket_directories=''" start >/dev/null ||
    die "PostgreSQL did not start; see $pg_log"
  started_pg=true
  "$WP" ping -q --database-url "$DATABASE_URL" --wait 15s || die "the PostgreSQL started here does not answer; see $pg_log"
}

# --- gateway and flusher ---

# start NAME COMMAND...: runs COMMAND in the background, output prefixed on the
# terminal and appended to .run/NAME.log.
start() {
  local name="$1"
  shift
  : >"$RUN_DIR/$name.log"
  # The prefixer ignores INT/TERM so it outlives Ctrl-C and shows the shutdown logs.
  "$@" > >(trap '' INT TERM; tee -a "$RUN_DIR/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
  pids+=("$!")
  names[$!]="$name"
}

wait_ready() {
  local deadline=$((SECONDS + 60)) pid
  until "$WP" ping -q --http "$gateway_url/readyz" --http "$flusher_url/readyz" 2>/dev/null; do
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null || die "${names[$pid]} exited during start-up; see .run/${names[$pid]}.log"
    done
    ((SECONDS < deadline)) || die "gateway/flusher not ready after 60s: $("$WP" ping -q --http "$gateway_url/readyz" --http "$flusher_url/readyz" 2>&1 | tail -n +2 | tr -s ' \n' ' ')"
    sleep 0.5
  done
}

banner() {
  local url_flag="" db_flag=""
  [[ "$GATEWAY_ADDR" == ":8080" ]] || url_flag=" --url ws://localhost:$(addr_port "$GATEWAY_ADDR")"
  [[ "$DATABASE_URL" == "postgres://postgres@localhost:5432/watchparty?sslmode=disable" ]] || db_flag=" --database-url '$DATABASE_URL'"
  cat >&2 <<EOF

${bold}watchparty is running${reset}  (Ctrl-C stops everything this script started)

  ${bold}Open in a browser:  $gateway_url/p/$PARTY_ID${reset}
             (the demo party; sign in as "alice" to be its host and control playback,
             any other name to watch; $gateway_url/ creates and lists parties)

  gateway    $gateway_url   /healthz /readyz /metrics   dev auth on (?user=<id>)
  flusher    $flusher_url   /healthz /readyz /metrics   flushes every $WATCH_PARTY_FLUSH_INTERVAL
  demo party $PARTY_ID   ONGOING, host alice

  WebSocket  ws://localhost:$(addr_port "$GATEWAY_ADDR")/ws/parties/$PARTY_ID?user=bob
  Chat       bin/wpclient chat --party $PARTY_ID --user bob$url_flag
             (type lines to chat; as the host, --user alice, /play 0 /pause 5000 /seek 1000; /like)
  Rows       bin/wpclient rows --party $PARTY_ID$db_flag
             (chats reach PostgreSQL at the next flush, within $WATCH_PARTY_FLUSH_INTERVAL)
EOF
  if command -v psql >/dev/null 2>&1; then
    cat >&2 <<EOF
  psql       psql '$DATABASE_URL' -c "SELECT user_id, body, created_at FROM watch_party_chats WHERE party_id = '$PARTY_ID' ORDER BY created_at"
EOF
  fi
  cat >&2 <<EOF
  Logs       .run/gateway.log  .run/flusher.log

EOF
}

main() {
  mkdir -p "$RUN_DIR"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  build
  ensure_redis
  ensure_postgres

  log "flusher migrate"
  bin/flusher migrate
  gateway_url="http://localhost:$(addr_port "$GATEWAY_ADDR")"
  "$WP" demo-party --id "$PARTY_ID" --video-url "$gateway_url/media/sample.webm" >/dev/null
  log "demo party $PARTY_ID is ONGOING"

  flusher_url="http://localhost:$(addr_port "$FLUSHER_METRICS_ADDR")"
  port_in_use "$(addr_port "$GATEWAY_ADDR")" && die "port $(addr_port "$GATEWAY_ADDR") is taken: set GATEWAY_ADDR=:<free port>"
  port_in_use "$(addr_port "$FLUSHER_METRICS_ADDR")" && die "port $(addr_port "$FLUSHER_METRICS_ADDR") is taken: set FLUSHER_METRICS_ADDR=:<free port>"

  export WATCH_PARTY_FLUSH_INTERVAL="${WATCH_PARTY_FLUSH_INTERVAL:-10s}"
  start gateway env WATCH_PARTY_DEV_AUTH="${WATCH_PARTY_DEV_AUTH:-true}" bin/gateway
  start flusher bin/flusher run
  wait_ready
  banner

  local done_pid="" rc=0
  wait -n -p done_pid "${pids[@]}" || rc=$?
  # A Ctrl-C reaches the children too; one that shut down cleanly (status 0)
  # may be noticed before the INT trap runs: that is a normal stop.
  [[ $rc -eq 0 ]] && { echo "run: ${names[$done_pid]:-a process} stopped; stopping the rest"; exit 0; }
  die "${names[$done_pid]:-a process} exited (status $rc); stopping the rest"
}

# Sourcing the file (for testing its functions) does not run it.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
