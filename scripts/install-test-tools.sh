#!/usr/bin/env bash
# Installs the npm tools and libraries the test suite runs as child processes into
# <repo>/build/test-tools: s3rver (an S3 server for the S3 client's tests) and the AWS SDK for
# JavaScript v3 (@aws-sdk/client-s3, @aws-sdk/lib-storage, @aws-sdk/client-sagemaker,
# @aws-sdk/client-cloudwatch-logs) that tests/integration/js drives against Kiln's APIs. Idempotent: does nothing when the pinned versions are already
# there. Uses whichever node/npm is first on PATH.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${KILN_TEST_TOOLS_DIR:-$repo/build/test-tools}
# name@version, pinned: the tests were written against exactly these.
pinned=(
  s3rver@3.7.1
  @aws-sdk/client-s3@3.1173.0
  @aws-sdk/lib-storage@3.1173.0
  @aws-sdk/client-sagemaker@3.1142.0
  @aws-sdk/client-cloudwatch-logs@3.1169.0
)

command -v node >/dev/null || { echo "install-test-tools.sh: node is not on PATH" >&2; exit 2; }
command -v npm >/dev/null || { echo "install-test-tools.sh: npm is not on PATH" >&2; exit 2; }

installed_version() {  # the version of package $1 installed under $prefix, or ""
  node -p "try { require('$prefix/node_modules/$1/package.json').version } catch (e) { '' }"
}

missing=()
for spec in "${pinned[@]}"; do
  name=${spec%@*}
  version=${spec##*@}
  if [[ $(installed_version "$name") != "$version" ]] ||
    [[ $name == s3rver && ! -x $prefix/node_modules/.bin/s3rver ]]; then
    missing+=("$spec")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-test-tools.sh: ${pinned[*]} present in $prefix" >&2
  exit 0
fi
mkdir -p "$prefix"
echo "install-test-tools.sh: installing ${missing[*]} into $prefix" >&2
# All pinned packages in one install so npm keeps every one of them in $prefix/package.json.
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact "${pinned[@]}"
