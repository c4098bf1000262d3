#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Kiln (release), starts a server on the
# embedded defaults (or reuses a running one), uploads a census-like CSV and the scikit-learn
# preprocessing script to the embedded S3 store, runs the job end to end and prints its
# DescribeProcessingJob output.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target kiln kiln-shim
kiln=$root/build/release/bin/kiln

data_dir=${KILN_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/kiln}
mkdir -p "$data_dir"
server_alive() {
  [[ -f $data_dir/server.json ]] || return 1
  local pid
  pid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$data_dir/server.json")
  kill -0 "$pid" 2>/dev/null
}
if ! server_alive; then
  rm -f "$data_dir/server.json"
  echo "quickstart: starting kiln server (data dir $data_dir, log $data_dir/server.log)" >&2
  nohup "$kiln" server --data-dir "$data_dir" >>"$data_dir/server.log" 2>&1 &
  for _ in $(seq 100); do [[ -f $data_dir/server.json ]] && break; sleep 0.1; done
  server_alive || { cat "$data_dir/server.log" >&2; exit 1; }
fi
eval "$("$kiln" env --data-dir "$data_dir")"
echo "quickstart: server at $AWS_ENDPOINT_URL" >&2

# The seed's scikit-learn preprocessing example on s3:// data in the embedded store, created with
# the SageMaker SDK's request shape; it prints the job's logs and DescribeProcessingJob.
/usr/bin/python3 examples/sklearn-preprocessing/run_with_boto3.py
echo "quickstart: the server keeps running (stop it with: kill \$(/usr/bin/python3 -c 'import json; print(json.load(open(\"$data_dir/server.json\"))[\"pid\"])'))" >&2
