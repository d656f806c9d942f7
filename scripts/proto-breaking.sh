#!/bin/sh
# `npm run breaking:proto [REF]`: buf breaking (FILE rules, buf.yaml) of proto/ against the proto/
# committed on a git ref (default: main). Passes with a note when that ref has no proto/ yet, so the
# first commit of the contract is not an error.
set -eu
ref="${1:-main}"
if ! git rev-parse --verify --quiet "$ref^{commit}" >/dev/null 2>&1 || ! git cat-file -e "$ref:proto" 2>/dev/null; then
  echo "proto-breaking: $ref has no proto/ yet; nothing to compare against" >&2
  exit 0
fi
exec buf breaking --against ".git#ref=$ref"
