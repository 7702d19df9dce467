#!/usr/bin/env bash
# Installs what ember's tests need that Go modules do not bring. As root on
# Linux the tests build real sandboxes, whose /tmp is an ext4 image made with
# mkfs.ext4 (Debian's e2fsprogs). The tests of `ember serve`
# drive it with the AWS CLI (Debian's awscli) and boto3 (Debian's
# python3-boto3), at /usr/bin/aws and /usr/bin/python3. The managed
# runtimes' tests run Python 3.11 (Debian 12's python3) and Node.js 20 from
# /usr/local/bin, /usr/bin or /bin; npm installs the AWS SDK for JavaScript
# v3 (into the user's cache) for a test of response streaming. In strict mode (EMBER_TEST_STRICT=1, as
# .ci/run sets) a test that finds one of these missing fails.
set -euo pipefail
command -v go >/dev/null || { echo "Go is required: https://go.dev/dl/" >&2; exit 1; }

# node20 reports whether Node.js 20 is where ember looks for it.
node20() {
  local d
  for d in /usr/local/bin /usr/bin /bin; do
    [ -x "$d/node20" ] && return 0
    [ -x "$d/node" ] && "$d/node" --version 2>/dev/null | grep -q '^v20\.' && return 0
  done
  return 1
}

if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ]; then
  missing=()
  command -v mkfs.ext4 >/dev/null || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || missing+=(e2fsprogs)
  [ -x /usr/bin/aws ] || missing+=(awscli)
  [ -x /usr/bin/python3 ] || missing+=(python3)
  /usr/bin/python3 -c 'import boto3' 2>/dev/null || missing+=(python3-boto3)
  # npm installs the AWS SDK for JavaScript v3 that a test of
  # InvokeWithResponseStream reads ember's event stream with.
  command -v npm >/dev/null || missing+=(npm)
  updated=
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && updated=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if ! node20; then
    [ -n "$updated" ] || apt-get update -qq
    # Debian's nodejs is Node.js 20 from Debian 13 on; Debian 12's is 18.
    if apt-cache policy nodejs | grep -q 'Candidate: 20\.'; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs
    fi
  fi
fi
node20 || echo "install-test-deps: no Node.js 20 in /usr/local/bin, /usr/bin or /bin: the Node.js runtime's tests cannot run" >&2
