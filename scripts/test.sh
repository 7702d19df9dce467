#!/usr/bin/env bash
# Runs every test of ember: vet, then the unit and end-to-end tests with the
# race detector. Installs what the tests need beyond Go modules first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-test-deps.sh
unformatted=$(find . -name "*.go" -not -path "./.git/*" -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
go vet ./...
go test -race -count=1 -timeout 25m ./...
