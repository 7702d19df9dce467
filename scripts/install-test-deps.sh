#!/usr/bin/env bash
# Installs what ember's tests need that Go modules do not bring. As root on
# Linux the tests build real sandboxes, whose /tmp is an ext4 image made with
# mkfs.ext4 (Debian's e2fsprogs). The tests of `ember serve` drive it with
# the AWS CLI (Debian's awscli) and boto3 (Debian's python3-boto3), at
# /usr/bin/aws and /usr/bin/python3.
set -euo pipefail
command -v go >/dev/null || { echo "Go is required: https://go.dev/dl/" >&2; exit 1; }
if [ "$(id -u)" = 0 ] && [ "$(uname -s)" = Linux ]; then
  if ! command -v mkfs.ext4 >/dev/null && [ ! -x /usr/sbin/mkfs.ext4 ] && [ ! -x /sbin/mkfs.ext4 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq e2fsprogs
  fi
  missing=()
  [ -x /usr/bin/aws ] || missing+=(awscli)
  /usr/bin/python3 -c 'import boto3' 2>/dev/null || missing+=(python3-boto3)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
