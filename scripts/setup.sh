#!/usr/bin/env bash
# Installs everything Kiln needs to build, test and run on Debian 12. Idempotent: safe to run again.
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "setup.sh: run as root (it uses apt-get)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build
  g++ cmake ninja-build pkg-config git
  libboost-dev nlohmann-json3-dev libsqlite3-dev libre2-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev libcurl4-openssl-dev zlib1g-dev
  # runtime: sandbox and the scikit-learn host image (python and pip, as in SageMaker's images, for
  # the FrameworkProcessor's runproc.sh)
  bubblewrap python3 python3-pandas python3-sklearn python3-boto3 python-is-python3 python3-pip
  # tests and benchmarks: real AWS clients, curl, process tools
  awscli rclone curl procps hyperfine ca-certificates
  # OCI images and containers: runtimes, the init, image tools, the image builder, and the static
  # busybox the OCI tests build their roots from
  runc crun tini umoci skopeo mmdebstrap busybox-static
  # the Slurm backend and its test cluster (scripts/slurm-cluster.sh): munge, the controller, the node
  # daemon, the client commands and the REST daemon; ip and nsenter/unshare for the nodes' namespaces
  munge slurmctld slurmd slurm-client slurmrestd slurm-wlm-jwt-plugin iproute2 util-linux
)

# node + npm run the test suite's npm tools (s3rver, the AWS SDK for JavaScript; see
# scripts/install-test-tools.sh, which scripts/test.sh calls). A node that already ships npm (NodeSource's
# nodejs provides and conflicts with Debian's npm) is used as it is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup.sh: installing ${missing[*]}" >&2
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Jobs get their own /etc/hosts bound over the host's (read-only) one, which needs the file to
# exist; every installed Debian has it, a bare chroot or container may not.
if [[ ! -e /etc/hosts ]]; then
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
fi
echo "setup.sh: all dependencies present" >&2
