#!/usr/bin/env bash
# Build the Pulumi-loader oracle (main.go) once into ~/.cache and print the binary's path.
exec bash "$(dirname "$0")/../go_build.sh" "$(dirname "$0")" . pulumi_loader
