#!/usr/bin/env bash
# Build a Go main package of a module under tools/ once into a cache dir and print the binary's path.
# Usage: go_build.sh MODULE_DIR PACKAGE NAME [LDFLAGS]   (PACKAGE as `go build` takes it, "." for the
# module's own; LDFLAGS go to `go build -ldflags`, and into the hash)
# The binary is named after a hash of the module's go.mod, go.sum and *.go, so a fresh clone (new
# mtimes) reuses it and any change to the sources builds a new one. Needs `go`: the Pulumi modules
# want 1.26, and an older go fetches that toolchain through the Go module proxy (GOTOOLCHAIN=auto).
set -euo pipefail
module="$(cd "$1" && pwd)" package="$2" name="$3" ldflags="${4:-}"
cache="${PRESTO_ON_AWS_GO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/presto-on-aws}"
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "no go on PATH: install Go 1.26 (or Debian's golang-go) to build $module" >&2; exit 1; }
sum="$( (cd "$module" && find . -maxdepth 1 \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 \
  | sort -z | xargs -0 cat; echo "$ldflags") | sha256sum | cut -c1-16)"
bin="$cache/$name-$sum/bin/$name"
if [ ! -x "$bin" ]; then
  echo "building $bin from $package (the first build fetches modules through the Go proxy and takes minutes)" >&2
  mkdir -p "$(dirname "$bin")"
  (cd "$module" && GOTOOLCHAIN=auto GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$bin.tmp.$$" "$package" && mv "$bin.tmp.$$" "$bin")
fi
echo "$bin"
