#!/bin/sh
# Runs every compiled test file (*.test.js under packages/*/dist, services/*/dist, e2e/dist) with node's
# test runner, and fails when none is found: `node --test` with no files runs nothing and exits 0 on Node 20.
set -eu
files=$(find packages services e2e models -path '*/node_modules' -prune -o -path '*/dist/*' -name '*.test.js' -print 2>/dev/null | sort)
if [ -z "$files" ]; then
  echo "scripts/test.sh: no test files found under */dist — did the build run?" >&2
  exit 1
fi
count=$(echo "$files" | wc -l)
echo "scripts/test.sh: running $count test files"
# shellcheck disable=SC2086
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" $files
