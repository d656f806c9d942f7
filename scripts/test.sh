#!/bin/sh
# Runs every compiled test file (*.test.js under */dist) with node's test runner. Fails when a test fails,
# when no test file is found, and when the files hold no test: `node --test` with nothing to run exits 0.
# Arguments: the folders to look in (default: packages services e2e models), e.g. `sh scripts/test.sh e2e`.
set -eu
dirs=${*:-packages services e2e models}
# shellcheck disable=SC2086
files=$(find $dirs -path '*/node_modules' -prune -o -path '*/dist/*' -name '*.test.js' -print 2>/dev/null | sort)
if [ -z "$files" ]; then
  echo "scripts/test.sh: no test files found under */dist — did the build run?" >&2
  exit 1
fi
echo "scripts/test.sh: $(echo "$files" | wc -l) test files"
tap=$(mktemp)
status=0
# shellcheck disable=SC2086
node --test --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" $files || status=$?
tests=$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$tap" | tail -1)
rm -f "$tap"
if [ "$status" -ne 0 ]; then
  echo "scripts/test.sh: tests failed (exit $status)" >&2
  exit "$status"
fi
if [ -z "$tests" ] || [ "$tests" -eq 0 ]; then
  echo "scripts/test.sh: no test ran" >&2
  exit 1
fi
echo "scripts/test.sh: $tests tests passed"
