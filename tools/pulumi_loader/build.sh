#!/usr/bin/env bash
# Build the Pulumi-loader oracle (main.go) once into a cache dir and print the binary's path.
# Rebuilt only when main.go, go.mod or go.sum is newer than the binary. Needs `go`; the first
# build fetches the Pulumi SDK through the Go module proxy and takes a couple of minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${PULUMI_LOADER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/presto-on-aws}"
bin="$cache/pulumi_loader"
mkdir -p "$cache"
if [ ! -x "$bin" ] || [ -n "$(find "$here/main.go" "$here/go.mod" "$here/go.sum" -newer "$bin" 2>/dev/null)" ]; then
  echo "building $bin (the Pulumi SDK's stack loader; the first build takes a few minutes)" >&2
  (cd "$here" && GOFLAGS=-mod=mod go build -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
echo "$bin"
