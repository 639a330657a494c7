#!/usr/bin/env bash
# deps.sh checks for what building, testing and running watchparty locally needs,
# and installs what is missing.
#
#   scripts/deps.sh          Go, make, a C compiler (go test -race), redis-server, PostgreSQL server
#   scripts/deps.sh --check  only report; exit 1 when something is missing
#
# As root on Debian/Ubuntu the missing Debian packages are installed with apt-get;
# otherwise it prints exactly what to install and exits 1. Go itself is never
# installed from apt (Debian's golang-go is older than the Go this module needs).
set -euo pipefail

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

say() { printf 'deps: %s\n' "$*" >&2; }

# go.mod's "go 1.26.x" line; Go older than that cannot build the module.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need_go="$(sed -n 's/^go \([0-9][0-9.]*\).*/\1/p' "$repo_root/go.mod" 2>/dev/null | head -n1)"
need_go="${need_go:-1.26}"

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; return; fi
  return 1
}

# version_ge A B: true when dotted version A >= B.
version_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

have_pg_server() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

# collect_missing fills missing_pkgs with the Debian packages whose commands are absent.
collect_missing() {
  missing_pkgs=()
  command -v make >/dev/null 2>&1 || missing_pkgs+=(make)
  # go test -race needs cgo, so a C compiler.
  command -v gcc >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || missing_pkgs+=(gcc)
  command -v redis-server >/dev/null 2>&1 || missing_pkgs+=(redis-server)
  have_pg_server || missing_pkgs+=(postgresql)
}

problems=()

if go_bin="$(find_go)"; then
  go_version="$("$go_bin" env GOVERSION 2>/dev/null || true)"
  go_version="${go_version#go}"
  if [[ -n "$go_version" ]] && ! version_ge "$go_version" "$need_go"; then
    # A Go that knows toolchains (>= 1.21) fetches the right one by itself.
    if ! version_ge "$go_version" 1.21; then
      problems+=("Go $go_version at $go_bin is too old: install Go $need_go or newer (https://go.dev/doc/install)")
    fi
  fi
  if ! command -v go >/dev/null 2>&1; then
    say "go is at $go_bin but not on PATH: export PATH=\"\$PATH:$(dirname "$go_bin")\""
  fi
else
  problems+=("Go is missing: install Go $need_go or newer (https://go.dev/doc/install) and put its bin/ on PATH")
fi

collect_missing
if ((${#missing_pkgs[@]} > 0)); then
  if ! $check_only && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing missing Debian packages: ${missing_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
    collect_missing
    ((${#missing_pkgs[@]} == 0)) || problems+=("still missing after apt-get install: ${missing_pkgs[*]}")
  elif command -v apt-get >/dev/null 2>&1; then
    problems+=("missing: run  sudo apt-get update && sudo apt-get install -y ${missing_pkgs[*]}")
  else
    problems+=("missing: install ${missing_pkgs[*]} (make, a C compiler, Redis server, PostgreSQL server) with your package manager")
  fi
fi

if ((${#problems[@]} > 0)); then
  for p in "${problems[@]}"; do say "$p"; done
  exit 1
fi
say "ok (go ${go_version:-?}, redis-server, PostgreSQL server, make, cc)"
