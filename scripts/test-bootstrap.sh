#!/usr/bin/env bash
# test-bootstrap.sh checks that scripts/deps.sh brings up the Go this module needs on a
# machine where no Go is reachable, and that `make build` then builds ./cmd/... with it.
#
#   scripts/test-bootstrap.sh [--cold] [--keep DIR]
#
# Runs as root (CI does) in a private mount namespace (unshare -m) where /usr/local/go and
# the other usual homes of a Go are covered by empty directories, with the system's PATH,
# no GOROOT, and a new empty HOME and GOPATH (so deps.sh's toolchain directory, under
# HOME, starts empty). Before deps.sh runs it checks that no Go of go.mod's version is
# reachable. Debian's golang-go (/usr/bin/go, Go 1.19) may be there, or deps.sh installs
# it: it is the bootstrap, and the test checks that it is not the Go that gets used.
# Prints how long each part took.
#
# The module and build caches (GOMODCACHE, GOCACHE) are the caller's, so that building
# ./cmd/... (with -trimpath) does not recompile every dependency on a machine where this
# test ran before (they hold no Go toolchain: the bootstrap downloads into a module cache
# of its own).
#   --cold      new empty module and build caches too: everything from nothing
#   --keep DIR  use DIR (created if missing) for all that is new and keep it, so that a
#               second run with the same DIR measures a warm start
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'test-bootstrap: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

# The Go version go.mod names, read here independently of deps.sh.
expected_go() {
  local go_line tc
  go_line="$(sed -n 's/^go[[:space:]]\{1,\}\([0-9.]*\).*/\1/p' "$repo/go.mod" | head -n1)"
  [[ "$go_line" =~ ^[0-9]+\.[0-9]+$ ]] && go_line="$go_line.0"
  tc="$(sed -n 's/^toolchain[[:space:]]\{1,\}go\([0-9.]*\)$/\1/p' "$repo/go.mod" | head -n1)"
  if [[ -n "$tc" && "$(printf '%s\n%s\n' "$go_line" "$tc" | sort -V | tail -n1)" == "$tc" ]]; then
    go_line="$tc"
  fi
  printf '%s\n' "$go_line"
}

# Homes of a Go that this machine or a developer may have; each is covered when it exists.
hidden_dirs=(/usr/local/go /usr/local/go1* /opt/go /root/go/bin /root/sdk /root/.cache/watchparty-go
  "${HOME:-/root}/go/bin" "${HOME:-/root}/sdk" "${HOME:-/root}/.cache/watchparty-go"
  ${WATCHPARTY_TOOLCHAIN_DIR:+"$WATCHPARTY_TOOLCHAIN_DIR"} ${GOROOT:+"$GOROOT"})

inside() {
  local work="$1" modcache="$2" gocache="$3" empty d
  empty="$work/empty"
  mkdir -p "$empty"
  for d in "${hidden_dirs[@]}"; do
    [[ -d "$d" ]] || continue
    mount --bind "$empty" "$d" || fail "cannot cover $d"
  done
  # A go binary in a system bin directory other than Debian's own /usr/bin/go.
  for d in /usr/local/bin/go /usr/local/sbin/go; do
    [[ -e "$d" ]] && { mount --bind /dev/null "$d" || fail "cannot cover $d"; }
  done

  mkdir -p "$work/home" "$work/gopath" "$work/bin" "$modcache" "$gocache"
  local clean_env=(env -i HOME="$work/home" USER=root LANG=C.UTF-8 CI="${CI:-}"
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    GOPATH="$work/gopath" GOMODCACHE="$modcache" GOCACHE="$gocache")
  local v
  for v in GOPROXY GOSUMDB http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [[ -n "${!v:-}" ]] && clean_env+=("$v=${!v}")
  done

  local want
  want="$(expected_go)"
  cd "$repo"

  # Precondition: nothing of that version is reachable, so deps.sh must fetch it.
  # (With --keep, a second run finds the toolchain the first installed in its HOME: warm.)
  if found="$("${clean_env[@]}" bash scripts/deps.sh --which-go 2>/dev/null)"; then
    [[ "$found" == "$work/home/"* ]] ||
      fail "a Go new enough is still reachable at $found: this test would prove nothing"
    say "warm: go$want is already installed under the kept HOME ($found)"
  fi
  local old
  old="$("${clean_env[@]}" bash -c 'command -v go && go version' 2>/dev/null | tr '\n' ' ' || true)"
  say "outside the test's HOME no go$want is reachable; go on PATH: ${old:-none}"

  local t0=$SECONDS
  timeout 600 "${clean_env[@]}" bash scripts/deps.sh </dev/null ||
    fail "scripts/deps.sh failed (exit $?)"
  local t_deps=$((SECONDS - t0))
  say "deps.sh took ${t_deps}s"

  local go_bin
  go_bin="$("${clean_env[@]}" bash scripts/deps.sh --which-go)" || fail "deps.sh --which-go finds no Go after deps.sh"
  [[ "$go_bin" == "$work/home/"* ]] || fail "the Go chosen is $go_bin, not the one installed under the new HOME"
  local got
  got="$("${clean_env[@]}" "$go_bin" env GOVERSION)"
  [[ "$got" == "go$want" ]] || fail "$go_bin is $got, want go$want"
  # The module accepts it without switching toolchains.
  "${clean_env[@]}" GOTOOLCHAIN=local "$go_bin" list -m >/dev/null || fail "go list -m with $go_bin"

  # -trimpath keeps the toolchain's directory (new each run) out of the build cache's keys,
  # so that a shared build cache is reused from one run to the next.
  t0=$SECONDS
  timeout 900 "${clean_env[@]}" GOFLAGS=-trimpath make -s build BIN="$work/bin" </dev/null ||
    fail "make build failed (exit $?)"
  local t_build=$((SECONDS - t0)) b built
  say "make build took ${t_build}s"
  for b in gateway flusher wpclient; do
    [[ -x "$work/bin/$b" ]] || fail "make build did not produce $b"
    built="$("$go_bin" version "$work/bin/$b")"
    [[ "$built" == *": go$want" ]] || fail "$b was built by ${built##*: }, want go$want"
  done
  "$work/bin/wpclient" --help >/dev/null 2>&1 || fail "bin/wpclient --help does not run"

  tampered "$go_bin" "$want"
  say "deps.sh: go$want at $go_bin in ${t_deps}s; make build (./cmd/...) in ${t_build}s"
}

# tampered GO WANT: a proxy that serves a forged golang.org/toolchain zip for go WANT (a
# file:// proxy listed before the real one, which still serves the checksum database) gets
# the toolchain refused by the checksum database, and nothing is installed. GO writes the zip.
tampered() {
  local go_bin="$1" want="$2" t0=$SECONDS
  local fake="$work/fakeproxy" v
  v="v0.0.1-go$want.linux-$("${clean_env[@]}" "$go_bin" env GOARCH)"
  mkdir -p "$fake/golang.org/toolchain/@v" "$work/mkzip"
  printf '{"Version":"%s","Time":"2026-01-01T00:00:00Z"}\n' "$v" >"$fake/golang.org/toolchain/@v/$v.info"
  printf 'module golang.org/toolchain\n' >"$fake/golang.org/toolchain/@v/$v.mod"
  printf '%s\n' "$v" >"$fake/golang.org/toolchain/@v/list"
  cat >"$work/mkzip/main.go" <<'GO'
package main

import (
	"archive/zip"
	"os"
)

// Writes a module zip for golang.org/toolchain@VERSION whose bin/go is a forgery.
func main() {
	f, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	z := zip.NewWriter(f)
	prefix := "golang.org/toolchain@" + os.Args[1] + "/"
	for name, body := range map[string]string{
		"go.mod": "module golang.org/toolchain\n",
		"bin/go": "#!/bin/sh\necho forged\n",
	} {
		w, err := z.Create(prefix + name)
		if err != nil {
			panic(err)
		}
		w.Write([]byte(body))
	}
	if err := z.Close(); err != nil {
		panic(err)
	}
	f.Close()
}
GO
  (cd "$work/mkzip" && "${clean_env[@]}" GOTOOLCHAIN=local GO111MODULE=off "$go_bin" run main.go "$v" \
    "$fake/golang.org/toolchain/@v/$v.zip") || fail "cannot write the forged zip"
  local out rc=0
  out="$("${clean_env[@]}" WATCHPARTY_TOOLCHAIN_DIR="$work/tampered" \
    GOPROXY="file://$fake,${GOPROXY:-https://proxy.golang.org}" \
    timeout 300 bash scripts/deps.sh --go 2>&1 </dev/null)" || rc=$?
  ((rc != 0)) || fail "deps.sh installed a forged toolchain:
$out"
  [[ "$out" == *"SECURITY ERROR"* ]] || fail "deps.sh failed on the forged toolchain, but not for its checksum:
$out"
  [[ ! -e "$work/tampered/go$want.linux-${v##*-}" ]] || fail "a forged toolchain was left in $work/tampered"
  say "a forged toolchain zip is refused by the checksum database ($((SECONDS - t0))s)"
}

if [[ "${1:-}" == --inside ]]; then
  inside "$2" "$3" "$4"
  exit 0
fi

keep="" cold=false
while (($# > 0)); do
  case "$1" in
    --cold) cold=true ;;
    --keep) keep="${2:?--keep needs a directory}"; shift ;;
    *) echo "usage: $0 [--cold] [--keep DIR]" >&2; exit 2 ;;
  esac
  shift
done
[[ "$(id -u)" == 0 ]] || fail "needs root (for unshare -m and the bind mounts; CI runs as root)"
command -v unshare >/dev/null || fail "needs unshare (util-linux)"

start=$SECONDS
if [[ -n "$keep" ]]; then
  mkdir -p "$keep"
  work="$(cd "$keep" && pwd)"
else
  work="$(mktemp -d /tmp/wp-bootstrap-XXXXXX)"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
fi
if $cold; then
  modcache="$work/gopath/pkg/mod" gocache="$work/gocache"
else
  gopath1="${GOPATH:-${HOME:-/root}/go}"
  modcache="${GOMODCACHE:-${gopath1%%:*}/pkg/mod}"
  gocache="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/go-build}"
fi
say "in $work (module cache $modcache, build cache $gocache)"
unshare -m --propagation private bash "${BASH_SOURCE[0]}" --inside "$work" "$modcache" "$gocache"
say "ok in $((SECONDS - start))s"
