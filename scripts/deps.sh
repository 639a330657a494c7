#!/usr/bin/env bash
# deps.sh brings up everything building, testing and running watchparty needs on a
# Debian-like machine, and checks it.
#
#   scripts/deps.sh             install what is missing, then check everything
#   scripts/deps.sh --go        the same for Go alone (what `make build` needs)
#   scripts/deps.sh --check     only report; exit 1 when something is missing
#   scripts/deps.sh --which-go  print the go command to use (installs nothing); exit 1 if none
#
# Debian packages: the one list is deb_packages below (make, gcc, redis-server,
# redis-sentinel, postgresql, chromium, nodejs, npm, ffmpeg). As root they are installed with apt-get; as
# another user the exact `sudo apt-get ...` line is printed and deps.sh exits 1.
#
# Go: go.mod names the version (its toolchain line when that is newer than its go line,
# else the go line; a bare "go 1.N" means go1.N.0, as the go command itself reads it).
# A go on PATH, the one installed below, or /usr/local/go/bin/go is used when it is at
# least that version. Otherwise deps.sh takes any older go as a bootstrap (installing
# Debian's golang-go for that when there is none) and with it downloads the exact
# toolchain as the module golang.org/toolchain@v0.0.1-go<version>.<os>-<arch> from the
# Go module proxy (GOPROXY), checked against the checksum database (GOSUMDB) like any
# module: the same artifact GOTOOLCHAIN=auto downloads. It is installed in
#   ${WATCHPARTY_TOOLCHAIN_DIR:-${XDG_CACHE_HOME:-~/.cache}/watchparty-go}/go<version>.<os>-<arch>
# shared by every clone of the repository; delete that directory to remove it. An older
# go (such as the bootstrap) is never chosen over it: the Makefile asks --which-go.
#
# socket.io-client: the Socket.IO e2e test's Node client, installed by `npm ci` in e2e/socketio
# from its committed package-lock.json (the npm registry). Not with --go.
#
# The web app's npm packages: hls.js (a copy is embedded in the gateway; internal/web's test checks
# the copy against the installed package) and axe-core (the browser tests' accessibility
# check), installed by `npm ci` in internal/web/npm from its committed package-lock.json. Not with --go.
#
# kube-score: deploy/checks lints the Kubernetes manifests with kube-score, installed with
# that go as `go install github.com/zegl/kube-score/cmd/kube-score@<kube_score_version>`
# into its GOBIN (else GOPATH/bin), where deploy/checks looks for it. (kube-score's Go
# packages do not build against the Kubernetes libraries deploy/checks uses, so it runs as
# a program.) Not with --go.
set -euo pipefail

mode=all
case "${1:-}" in
  "") ;;
  --go) mode=go ;;
  --check) mode=check ;;
  --which-go) mode=which ;;
  *) echo "usage: $0 [--go | --check | --which-go]" >&2; exit 2 ;;
esac
(($# <= 1)) || { echo "usage: $0 [--go | --check | --which-go]" >&2; exit 2; }

say() { printf 'deps: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- the Debian packages: one list ---------------------------------------------------

# "package  how to tell it is there" (cmd:NAME on PATH, file:PATH, or a function's name)
deb_packages=(
  "make            cmd:make"
  "gcc             cmd:gcc"            # cgo, for go test -race
  "redis-server    cmd:redis-server"
  "redis-sentinel  cmd:redis-sentinel" # failover tests
  "postgresql      have_pg_server"     # initdb, pg_ctl, postgres
  "chromium        file:/usr/bin/chromium" # browser tests
  "nodejs          cmd:node"           # socket.io-client in the Socket.IO e2e test
  "npm             cmd:npm"            # installs it: npm ci in e2e/socketio
  "ffmpeg          cmd:ffmpeg"         # the HLS browser test makes its HLS rendition
)
# Debian's Go, taken only as the bootstrap that downloads the right toolchain.
bootstrap_package=golang-go

have_pg_server() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

present() {
  case "$1" in
    cmd:*) command -v "${1#cmd:}" >/dev/null 2>&1 ;;
    file:*) [[ -x "${1#file:}" ]] ;;
    *) "$1" ;;
  esac
}

# missing_packages prints the packages of deb_packages that are not there.
missing_packages() {
  local entry pkg test
  for entry in "${deb_packages[@]}"; do
    read -r pkg test <<<"$entry"
    present "$test" || printf '%s\n' "$pkg"
  done
}

package_names() { local e; for e in "${deb_packages[@]}"; do printf '%s ' "${e%% *}"; done | sed 's/ $//'; }

debian_like() { command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; }

# apt_install installs the given packages (after one apt-get update) when it can, and
# otherwise says exactly what to run and fails.
apt_install() {
  if ! debian_like; then
    local what="$*"
    what="${what/$bootstrap_package/Go $need_go or newer (https://go.dev/dl/)}"
    die "this is not a Debian-like system (no apt-get): install $what with its package manager, then run this again"
  fi
  if [[ "$(id -u)" != 0 ]]; then
    die "missing: $*; as root this script installs them, or run:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends $*"
  fi
  say "installing with apt-get: $*"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt or dpkg run instead of failing on its lock.
  local lock=(-o DPkg::Lock::Timeout=600)
  apt-get "${lock[@]}" update -qq
  apt-get "${lock[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Go ---------------------------------------------------------------------------------

# The exact toolchain go.mod asks for.
go_mod_version() {
  local go_line tc_line
  go_line="$(sed -n 's/^go[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$repo_root/go.mod" | head -n1)"
  tc_line="$(sed -n 's/^toolchain[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$repo_root/go.mod" | head -n1)"
  [[ "$go_line" =~ ^[1-9][0-9]*\.[0-9]+(\.[0-9]+)?$ ]] ||
    die "go.mod: cannot read its go line (got \"$go_line\"; want e.g. go 1.26.8)"
  # A language version (1.26) names no toolchain; the go command takes its first, 1.26.0.
  [[ "$go_line" =~ ^[0-9]+\.[0-9]+$ ]] && go_line="$go_line.0"
  if [[ -n "$tc_line" && "$tc_line" != default ]]; then
    [[ "$tc_line" =~ ^go([1-9][0-9]*\.[0-9]+\.[0-9]+)$ ]] ||
      die "go.mod: toolchain line \"$tc_line\" is not a released toolchain like go1.26.8"
    version_ge "${BASH_REMATCH[1]}" "$go_line" && go_line="${BASH_REMATCH[1]}"
  fi
  printf '%s\n' "$go_line"
}

# version_ge A B: true when Go version A >= B (1.26.8, 1.27rc1, ...).
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

# go_version GO prints the version of the go command GO ("1.26.8"), without letting it
# switch toolchains or see another Go's GOROOT.
go_version() {
  local v
  v="$(cd / && env -u GOROOT GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null)" || return 1
  v="${v%% *}"
  [[ "$v" == go[0-9]* ]] || return 1 # "devel ..." builds: version unknown
  printf '%s\n' "${v#go}"
}

go_os() { case "$(uname -s)" in Linux) echo linux ;; Darwin) echo darwin ;; *) uname -s | tr 'A-Z' 'a-z' ;; esac; }
go_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    i?86) echo 386 ;;
    armv*) echo arm ;;
    ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    loongarch64) echo loong64 ;;
    *) uname -m ;;
  esac
}

need_go="$(go_mod_version)"
platform="$(go_os)-$(go_arch)"
toolchain_module="golang.org/toolchain@v0.0.1-go$need_go.$platform"
if [[ -n "${WATCHPARTY_TOOLCHAIN_DIR:-}" ]]; then
  toolchain_root="$WATCHPARTY_TOOLCHAIN_DIR"
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
  toolchain_root="$XDG_CACHE_HOME/watchparty-go"
elif [[ -n "${HOME:-}" && -d "$HOME" ]]; then
  toolchain_root="$HOME/.cache/watchparty-go"
else
  toolchain_root="$repo_root/.toolchain"
fi
toolchain_dir="$toolchain_root/go$need_go.$platform"

# find_go prints the first go command that is at least need_go: the one on PATH, the
# one this script installs, then the usual install place.
find_go() {
  local g v
  for g in "$(command -v go 2>/dev/null || true)" "$toolchain_dir/bin/go" \
    /usr/local/go/bin/go ${GOROOT:+"$GOROOT/bin/go"}; do
    [[ -n "$g" && -x "$g" ]] || continue
    v="$(go_version "$g")" || continue
    if version_ge "$v" "$need_go"; then
      printf '%s\n' "$g"
      return 0
    fi
  done
  return 1
}

# find_bootstrap prints any working go command, however old.
find_bootstrap() {
  local g
  for g in "$(command -v go 2>/dev/null || true)" /usr/lib/go/bin/go /usr/local/go/bin/go \
    ${GOROOT:+"$GOROOT/bin/go"} /usr/lib/go-*/bin/go; do
    [[ -n "$g" && -x "$g" ]] || continue
    go_version "$g" >/dev/null && { printf '%s\n' "$g"; return 0; }
  done
  return 1
}

# fetch_toolchain BOOTSTRAP downloads the exact toolchain with the go command BOOTSTRAP
# and installs it in toolchain_dir.
fetch_toolchain() {
  local boot="$1" start=$SECONDS tmp dir out sumdb
  say "fetching go$need_go ($toolchain_module) from the Go module proxy with go$(go_version "$boot") at $boot"
  # The checksum database is not optional here, whatever the user's settings say.
  sumdb="${GOSUMDB:-sum.golang.org}"
  [[ "$sumdb" != off ]] || die "GOSUMDB=off: the toolchain is only installed after the checksum database vouched for it; unset GOSUMDB"
  mkdir -p "$toolchain_root"
  tmp="$(mktemp -d "$toolchain_root/.fetch-XXXXXX")"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "chmod -R u+w '$tmp' 2>/dev/null; rm -rf '$tmp'" EXIT
  # Outside any module (in tmp), into a module cache of its own; -modcacherw so the
  # result can be moved and deleted. Nothing the user set may skip verification.
  if ! out="$(cd "$tmp" && env -u GOROOT -u GONOSUMDB -u GONOSUMCHECK -u GOPRIVATE -u GOINSECURE \
    -u GONOPROXY -u GOENV GO111MODULE=on GOTOOLCHAIN=local GOFLAGS=-modcacherw GOSUMDB="$sumdb" \
    GOMODCACHE="$tmp/mod" GOPATH="$tmp/gopath" GOCACHE="$tmp/cache" \
    "$boot" mod download -json "$toolchain_module" 2>&1)"; then
    die "downloading $toolchain_module failed:
$out"
  fi
  dir="$tmp/mod/$toolchain_module"
  [[ -f "$dir/bin/go" ]] || die "downloaded $toolchain_module but it has no bin/go:
$out"
  say "verified against $sumdb: $(sed -n 's/.*"Sum": "\(.*\)".*/\1/p' <<<"$out" | head -n1)"
  # What the go command does to a toolchain it downloads (cmd/go/internal/toolchain):
  # module zips keep no file modes, and go.mod files inside a module are stored as _go.mod.
  find "$dir/pkg/tool" "$dir/bin" -type f -exec chmod a+x {} +
  find "$dir/lib" -type f -name 'go_?*_?*_exec' -exec chmod a+x {} + 2>/dev/null || true
  find "$dir" -type f -name _go.mod -execdir cp _go.mod go.mod \;
  # Into place in one rename; a concurrent run that got there first wins.
  if ! mv -T "$dir" "$toolchain_dir" 2>/dev/null && [[ ! -x "$toolchain_dir/bin/go" ]]; then
    die "cannot move the toolchain into $toolchain_dir"
  fi
  chmod -R u+w "$tmp" 2>/dev/null
  rm -rf "$tmp"
  trap - EXIT
  local got
  got="$(go_version "$toolchain_dir/bin/go")" || die "the toolchain in $toolchain_dir does not run"
  [[ "$got" == "$need_go" ]] || die "the toolchain in $toolchain_dir says go$got, not go$need_go"
  say "installed go$need_go in $toolchain_dir ($(du -sh "$toolchain_dir" | cut -f1), $((SECONDS - start))s)"
}

# --- socket.io-client -------------------------------------------------------------------

# The Socket.IO e2e test drives the stock socket.io-client from Node, installed from the npm
# registry at the versions of the committed e2e/socketio/package-lock.json (npm ci).
socketio_dir="$repo_root/e2e/socketio"

# have_socketio_client: true when node_modules matches the lock file (npm ci writes
# node_modules/.package-lock.json; it is older than the lock file when that changed).
have_socketio_client() {
  [[ -f "$socketio_dir/node_modules/.package-lock.json" && -f "$socketio_dir/node_modules/socket.io-client/package.json" &&
    ! "$socketio_dir/package-lock.json" -nt "$socketio_dir/node_modules/.package-lock.json" ]]
}

install_socketio_client() {
  have_socketio_client && return 0
  say "installing socket.io-client into e2e/socketio/node_modules (npm ci)"
  (cd "$socketio_dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in e2e/socketio failed"
}

# --- the web app's npm packages ----------------------------------------------------------

# hls.js and axe-core at the versions of the committed internal/web/npm/package-lock.json (npm ci).
web_npm_dir="$repo_root/internal/web/npm"

# have_web_npm: true when node_modules matches the lock file (as have_socketio_client).
have_web_npm() {
  [[ -f "$web_npm_dir/node_modules/.package-lock.json" && -f "$web_npm_dir/node_modules/hls.js/package.json" &&
    -f "$web_npm_dir/node_modules/axe-core/axe.min.js" &&
    ! "$web_npm_dir/package-lock.json" -nt "$web_npm_dir/node_modules/.package-lock.json" ]]
}

install_web_npm() {
  have_web_npm && return 0
  say "installing hls.js and axe-core into internal/web/npm/node_modules (npm ci)"
  (cd "$web_npm_dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in internal/web/npm failed"
}

# --- kube-score -------------------------------------------------------------------------

kube_score_version=v1.20.0 # deploy/checks reads the pin from this line

# kube_score_bin GO prints where `GO install` puts kube-score.
kube_score_bin() {
  local dir
  dir="$(cd / && env -u GOROOT GOTOOLCHAIN=local "$1" env GOBIN)"
  [[ -n "$dir" ]] || dir="$(cd / && env -u GOROOT GOTOOLCHAIN=local "$1" env GOPATH | cut -d: -f1)/bin"
  printf '%s/kube-score\n' "$dir"
}

# have_kube_score GO: true when GO's install directory holds kube-score at the pinned version.
have_kube_score() {
  local bin info
  bin="$(kube_score_bin "$1")"
  [[ -x "$bin" ]] || return 1
  info="$(cd / && env -u GOROOT GOTOOLCHAIN=local "$1" version -m "$bin" 2>/dev/null)" || return 1
  grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/zegl/kube-score[[:space:]]+$kube_score_version([[:space:]]|\$)" <<<"$info"
}

install_kube_score() {
  have_kube_score "$1" && return 0
  say "installing kube-score $kube_score_version with go install into $(dirname "$(kube_score_bin "$1")")"
  (cd / && env -u GOROOT GOTOOLCHAIN=local "$1" install "github.com/zegl/kube-score/cmd/kube-score@$kube_score_version") ||
    die "go install github.com/zegl/kube-score/cmd/kube-score@$kube_score_version failed"
  have_kube_score "$1" || die "installed kube-score $kube_score_version, but it is not at $(kube_score_bin "$1")"
}

if [[ "$mode" == which ]]; then
  find_go || die "no Go $need_go or newer here; run scripts/deps.sh (or make deps) to install it"
  exit 0
fi

# --- what is missing --------------------------------------------------------------------

mapfile -t missing < <(if [[ "$mode" != go ]]; then missing_packages; fi)
go_bin="$(find_go || true)"
need_bootstrap=false
if [[ -z "$go_bin" ]] && ! find_bootstrap >/dev/null; then
  need_bootstrap=true
fi

if [[ "$mode" == check ]]; then
  problems=0
  if ((${#missing[@]} > 0)); then
    say "missing Debian packages: ${missing[*]}"
    problems=1
  fi
  if [[ -z "$go_bin" ]]; then
    say "no Go $need_go or newer (scripts/deps.sh would fetch go$need_go into $toolchain_dir)"
    problems=1
  elif ! have_kube_score "$go_bin"; then
    say "no kube-score $kube_score_version at $(kube_score_bin "$go_bin") (scripts/deps.sh would go install it)"
    problems=1
  fi
  if ! have_socketio_client; then
    say "no socket.io-client in e2e/socketio/node_modules (scripts/deps.sh would npm ci it)"
    problems=1
  fi
  if ! have_web_npm; then
    say "no hls.js or axe-core in internal/web/npm/node_modules (scripts/deps.sh would npm ci it)"
    problems=1
  fi
  ((problems == 0)) || exit 1
  say "ok (go$(go_version "$go_bin") at $go_bin; $(package_names); kube-score $kube_score_version)"
  exit 0
fi

to_install=("${missing[@]}")
$need_bootstrap && to_install+=("$bootstrap_package")
if ((${#to_install[@]} > 0)); then
  apt_install "${to_install[@]}"
  mapfile -t missing < <(if [[ "$mode" != go ]]; then missing_packages; fi)
  ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
fi

if [[ -z "$go_bin" ]]; then
  boot="$(find_bootstrap)" || die "no go command to bootstrap from, even after installing $bootstrap_package"
  fetch_toolchain "$boot"
  go_bin="$(find_go)" || die "go$need_go was installed in $toolchain_dir but is not found there"
fi

if [[ "$mode" == go ]]; then
  say "ok (go$(go_version "$go_bin") at $go_bin)"
else
  install_kube_score "$go_bin"
  install_socketio_client
  install_web_npm
  say "ok (go$(go_version "$go_bin") at $go_bin; $(package_names); kube-score $kube_score_version)"
fi
