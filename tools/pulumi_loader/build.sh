#!/usr/bin/env bash
# Build the Pulumi-loader oracle (main.go) once into a cache dir and print the binary's path.
# The binary is named after a hash of main.go, go.mod and go.sum, so a fresh clone (new mtimes)
# reuses it and any change to the sources builds a new one. Needs `go` (the SDK wants 1.26: an
# older go fetches that toolchain through the module proxy, GOTOOLCHAIN=auto); the first build
# fetches the Pulumi SDK through the Go module proxy and takes a few minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${PULUMI_LOADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/presto-on-aws}"
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "no go on PATH: install Go 1.26 (or Debian's golang-go) to build $here" >&2; exit 1; }
sum="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
bin="$cache/pulumi_loader-$sum"
mkdir -p "$cache"
if [ ! -x "$bin" ]; then
  echo "building $bin (the Pulumi SDK's stack loader; the first build takes a few minutes)" >&2
  (cd "$here" && GOTOOLCHAIN=auto GOFLAGS=-mod=mod go build -o "$bin.tmp.$$" . && mv "$bin.tmp.$$" "$bin")
fi
echo "$bin"
