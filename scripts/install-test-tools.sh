#!/usr/bin/env bash
# Installs the npm tools the test suite runs as child processes (s3rver, an S3 server for the S3
# client's tests) into <repo>/build/test-tools. Idempotent: does nothing when the pinned versions
# are already there. Uses whichever node/npm is first on PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${KILN_TEST_TOOLS_DIR:-$repo/build/test-tools}
s3rver_version=3.7.1

command -v node >/dev/null || { echo "install-test-tools.sh: node is not on PATH" >&2; exit 2; }
command -v npm >/dev/null || { echo "install-test-tools.sh: npm is not on PATH" >&2; exit 2; }

installed=$(node -p "try { require('$prefix/node_modules/s3rver/package.json').version } catch (e) { '' }")
if [[ $installed == "$s3rver_version" && -x $prefix/node_modules/.bin/s3rver ]]; then
  echo "install-test-tools.sh: s3rver $s3rver_version present in $prefix" >&2
  exit 0
fi
mkdir -p "$prefix"
echo "install-test-tools.sh: installing s3rver@$s3rver_version into $prefix" >&2
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "s3rver@$s3rver_version"
