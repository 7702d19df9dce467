#!/usr/bin/env bash
# Installs what ember's tests need that Go modules do not bring. The tests of
# the execution core need only Go and a C-free toolchain; later parts add
# Debian packages here (the AWS CLI, python3-boto3, nodejs).
set -euo pipefail
command -v go >/dev/null || { echo "Go is required: https://go.dev/dl/" >&2; exit 1; }
