#!/usr/bin/env bash
# Builds ember and the example functions, starts `ember serve` (the Lambda
# API on 127.0.0.1:3001, state under $XDG_DATA_HOME/ember), deploys every
# function in examples/ (hello-image as a container image; hello with the
# logger extension of examples/layers; stream-url behind a streaming
# function URL, whose address it prints), invokes hello and hello-image
# once, and keeps serving until
# interrupted. Then, from another shell:
#   AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 \
#     aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name hello out.json
#   .bin/ember invoke hello --payload '{"name":"ember"}'
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.bin
mkdir -p "$bin"
CGO_ENABLED=0 go build -o "$bin/ember" ./cmd/ember
"$bin/ember" serve "$@" &
serve=$!
trap 'kill -TERM $serve 2>/dev/null; wait $serve' EXIT INT TERM
for _ in $(seq 100); do
  "$bin/ember" ls >/dev/null 2>&1 && break
  kill -0 $serve 2>/dev/null || exit 1
  sleep 0.1
done
for dir in examples/*/; do
  [ -f "$dir/main.go" ] || continue
  name=$(basename "$dir")
  mkdir -p "$bin/examples/$name"
  CGO_ENABLED=0 go build -o "$bin/examples/$name/bootstrap" "./$dir"
  if [ -d "$dir/oci" ]; then
    # A container-image example: its bootstrap written as an OCI image
    # layout, loaded into ember and deployed as an image.
    go run "./$dir/oci" "$bin/examples/$name/bootstrap" "$bin/examples/$name.oci" "$name:latest"
    "$bin/ember" image load "$bin/examples/$name.oci"
    "$bin/ember" deploy "$name" --image "$name:latest"
  else
    "$bin/ember" deploy "$name" "$bin/examples/$name"
  fi
done
# An external extension in a layer, which hello then runs beside its
# runtime: its lines join hello's log.
mkdir -p "$bin/layers/logger/extensions"
CGO_ENABLED=0 go build -o "$bin/layers/logger/extensions/logger" ./examples/layers/logger
layer=$("$bin/ember" layer publish logger "$bin/layers/logger")
"$bin/ember" deploy hello "$bin/examples/hello" --layer "$layer"
"$bin/ember" invoke hello --payload '{"name":"ember"}'
"$bin/ember" invoke hello-image --payload '{"name":"ember"}'
# A function URL that streams its response as it is written.
url=$("$bin/ember" url stream-url --stream)
echo "stream-url streams at $url (try: curl -N '${url}?n=10')" >&2
echo "ember serve: Lambda API on http://127.0.0.1:3001 (aws lambda ... --endpoint-url http://127.0.0.1:3001); Ctrl-C stops it" >&2
wait $serve
