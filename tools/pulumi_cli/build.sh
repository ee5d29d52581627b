#!/usr/bin/env bash
# Build the Pulumi CLI itself (pkg/v3 v3.276.0, cmd/pulumi) once into ~/.cache and print its path.
# tests/integration/test_automation_cli.py drives automation.py with it. The first build takes
# about 5 minutes on 2 cores (283 s, measured while CI ran; a cached build: seconds). The version is
# stamped as the release build does, since the Automation API checks it.
exec bash "$(dirname "$0")/../go_build.sh" "$(dirname "$0")" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v3.276.0"
