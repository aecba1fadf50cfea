#!/bin/sh
# e2e.sh - runs the end-to-end tests in tests/e2e/ against the real server
# binary, outside the C test runner (which runs the same scripts as the
# e2e_* tests). Installs the pinned node modules when they are missing.
#
#   scripts/e2e.sh [NAME...]     NAME: openai, upstream, security, lifecycle, browser
#
# Environment: RATHAUS_BIN (default build/rathaus), RATHAUS_TESTDATA.
# Each script exits 0 (passed), 77 (skipped) or 1 (failed).
set -u
cd "$(dirname "$0")/.."
export RATHAUS_BIN="${RATHAUS_BIN:-$PWD/build/rathaus}"
if ! command -v node >/dev/null 2>&1; then
    echo "e2e: node is not installed (apt-get install nodejs npm)" >&2
    exit 1
fi
if [ ! -d tests/e2e/node_modules ] && command -v npm >/dev/null 2>&1; then
    (cd tests/e2e && npm ci --no-audit --no-fund) || echo "e2e: npm ci failed; tests that need the modules will skip" >&2
fi
names="${*:-openai upstream security lifecycle browser}"
passed=0 failed=0 skipped=0
for n in $names; do
    echo "== $n"
    node "tests/e2e/$n.mjs"
    rc=$?
    case $rc in
        0) passed=$((passed + 1)) ;;
        77) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)); echo "e2e: $n FAILED (exit $rc)" ;;
    esac
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
