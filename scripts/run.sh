#!/usr/bin/env bash
# Builds ember and the example function, then serves the example through
# `ember rie` on 127.0.0.1:8080. Invoke it with:
#   curl -XPOST localhost:8080/2015-03-31/functions/function/invocations -d '{"name":"ember"}'
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -o "$out/ember" ./cmd/ember
mkdir -p "$out/hello"
CGO_ENABLED=0 go build -o "$out/hello/bootstrap" ./examples/hello
echo "ember rie: POST http://127.0.0.1:8080/2015-03-31/functions/function/invocations" >&2
exec "$out/ember" rie --runtime-interface-emulator-address 127.0.0.1:8080 "$out/hello/bootstrap"
