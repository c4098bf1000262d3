#!/usr/bin/env bash
# The README's first command: installs dependencies, builds Kiln (release), starts a server on the
# embedded defaults (or reuses a running one), and runs the scikit-learn preprocessing example end
# to end on a census-like CSV, then prints the job's DescribeProcessingJob output.
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

# The example's data and code, under the data dir's files/ (file:// data allowed by default).
files=$data_dir/files/quickstart
mkdir -p "$files/census" "$files/code"
/usr/bin/python3 examples/sklearn-preprocessing/make_census.py "$files/census/census-income.csv" 5000
cp examples/sklearn-preprocessing/preprocessing.py "$files/code/"

name=quickstart-$(date -u +%Y%m%d-%H%M%S)
"$kiln" run --data-dir "$data_dir" --name "$name" \
  --image 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3 \
  --entrypoint python3 --entrypoint /opt/ml/processing/input/code/preprocessing.py \
  --arg --train-test-split-ratio --arg 0.2 \
  --input "$files/census:/opt/ml/processing/input" \
  --input "$files/code:/opt/ml/processing/input/code" \
  --output "train_data=/opt/ml/processing/train:$files/output/train" \
  --output "test_data=/opt/ml/processing/test:$files/output/test" \
  --instance-type ml.m5.xlarge --wait --logs
"$kiln" jobs describe --data-dir "$data_dir" "$name" --json
echo "quickstart: outputs in $files/output; the server keeps running (stop it with: kill \$(/usr/bin/python3 -c 'import json; print(json.load(open(\"$data_dir/server.json\"))[\"pid\"])'))" >&2
