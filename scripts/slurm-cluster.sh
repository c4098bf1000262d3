#!/usr/bin/env bash
# A private two-node Slurm 22.05 test cluster on this machine, entirely under DIR (nothing in /etc):
# munged, slurmctld and slurmrestd on the host, and two slurmd nodes (knode1, knode2), each in its
# own network and UTS namespace with its own hostname and address on a bridge that also has a host
# address, so jobs reach slurmctld and a Kiln server on the host. See runtime-recipes.md §5.
#
#   scripts/slurm-cluster.sh up DIR      start (or keep) the cluster; returns once a job has run
#   scripts/slurm-cluster.sh down DIR    stop it; removes every process, netns, link and mount
#   scripts/slurm-cluster.sh status DIR  exit 0 if every part runs and both nodes are usable
#
# `up` prints the environment a client needs (also written to DIR/env), e.g.
#   SLURM_CONF=DIR/slurm.conf  KSLURM_HOST_ADDR=10.213.0.1  KSLURM_NODES=knode1,knode2 ...
# Needs root. The network names are fixed (prefix `kslurm`), so one cluster per machine at a time;
# the bridge's alias records which DIR owns them. Tunables: KSLURM_START_TIMEOUT (seconds, 90).
set -euo pipefail

readonly SUBNET_PREFIX=10.213.0
readonly HOST_ADDR=${SUBNET_PREFIX}.1
readonly HOST_NAME=kslurmctl
readonly BRIDGE=kslurmbr0
readonly NODES=(knode1 knode2)
readonly CTLD_PORT=16817
readonly SLURMD_PORT=16818
readonly START_TIMEOUT=${KSLURM_START_TIMEOUT:-90}
readonly STOP_TIMEOUT=20    # for the daemons
readonly JOB_STOP_TIMEOUT=2 # for job steps left in the nodes (slurmstepd ignores SIGTERM)

die() {
  echo "slurm-cluster: $*" >&2
  exit 1
}
log() { echo "slurm-cluster: $*" >&2; }

netns_name() { echo "kslurm-$1"; }                 # kslurm-knode1
veth_name() { echo "kslurmv${1#knode}"; }          # kslurmv1 (host side)
node_addr() { echo "${SUBNET_PREFIX}.1${1#knode}"; } # 10.213.0.11

# wait_for SECONDS WHAT DAEMONS CMD...: polls CMD every 50 ms until it succeeds; fails when the
# deadline passes or when one of DAEMONS (space-separated pid-file names) is no longer running.
wait_for() {
  local timeout=$1 what=$2 daemons=$3 d
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "$what: timed out after ${timeout}s"; return 1; }
    for d in $daemons; do
      # Daemons that fork write their pid file a little after their parent returns.
      [[ -s $RUN/$d.pid ]] || continue
      pid_of "$d" >/dev/null || { log "$what: $d exited"; return 1; }
    done
    sleep 0.05
  done
  log "$what ready after ${SECONDS}s"
}

# ---------------------------------------------------------------------------------------------
# Processes. Every daemon's pid file lives in DIR/run; a pid counts as ours only while its command
# line still names DIR, so a recycled pid is never signalled.
pid_of() { # pid_of NAME -> prints the pid if that daemon of this DIR is alive
  local file=$RUN/$1.pid pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$DIR/" || return 1
  echo "$pid"
}

stop_pid() { # stop_pid GRACE PID...: SIGTERM, wait up to GRACE seconds, then SIGKILL and wait.
  local deadline=$((SECONDS + $1)) p alive
  shift
  local pids=("$@")
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while ((SECONDS < deadline)); do
    alive=()
    for p in "${pids[@]}"; do [[ -d /proc/$p ]] && alive+=("$p"); done
    ((${#alive[@]})) || return 0
    sleep 0.05
  done
  kill -KILL "${alive[@]}" 2>/dev/null || true
  for p in "${alive[@]}"; do while [[ -d /proc/$p ]]; do sleep 0.05; done; done
}

# Processes whose command line names DIR (daemons and anything a test started with our paths),
# except this script's own.
pids_naming_dir() {
  local file pid
  # The pattern comes from a file so that grep's own command line does not match it.
  { grep -lsFf <(printf '%s/\n' "$DIR") /proc/[0-9]*/cmdline || true; } | while read -r file; do
    pid=${file#/proc/}
    pid=${pid%/cmdline}
    grep -qsF slurm-cluster.sh "$file" || echo "$pid"
  done
}

# ---------------------------------------------------------------------------------------------
bridge_owner() {
  { ip -o link show "$BRIDGE" 2>/dev/null || true; } | sed -n 's/.*alias kslurm:\(.*\)$/\1/p'
}

check_not_owned_by_other() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || return 0
  local owner
  owner=$(bridge_owner)
  [[ $owner == "$DIR" ]] ||
    die "network $BRIDGE belongs to the cluster in '${owner:-unknown}';" \
      "run: $0 down ${owner:-<dir>}"
}

write_config() {
  mkdir -p "$DIR"/{munge,state,run,log,rest} "${NODES[@]/#/$DIR/spool/}"
  # munged refuses a socket directory without search permission for all; slurmrestd runs as slurm
  # and must reach slurm.conf and the munge socket.
  chmod 755 "$DIR" "$DIR/munge" "$DIR/run" "$DIR/log"
  chown slurm: "$DIR/rest"
  if [[ ! -s $DIR/munge/munge.key ]]; then
    head -c 1024 /dev/urandom >"$DIR/munge/munge.key.tmp"
    chmod 600 "$DIR/munge/munge.key.tmp"
    mv "$DIR/munge/munge.key.tmp" "$DIR/munge/munge.key"
  fi
  if [[ ! -s $DIR/state/jwt_hs256.key ]]; then
    head -c 32 /dev/urandom >"$DIR/state/jwt_hs256.key.tmp"
    chmod 600 "$DIR/state/jwt_hs256.key.tmp"
    mv "$DIR/state/jwt_hs256.key.tmp" "$DIR/state/jwt_hs256.key"
  fi
  local cpus n
  cpus=$(nproc)
  {
    printf '127.0.0.1 localhost\n%s %s\n' "$HOST_ADDR" "$HOST_NAME"
    for n in "${NODES[@]}"; do printf '%s %s\n' "$(node_addr "$n")" "$n"; done
  } >"$DIR/hosts"
  cat >"$DIR/slurm.conf.tmp" <<EOF
# Written by scripts/slurm-cluster.sh; a private test cluster.
ClusterName=kslurm
SlurmctldHost=${HOST_NAME}(${HOST_ADDR})
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munge.sock
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$DIR/state/jwt_hs256.key
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MinJobAge=300
KillWait=10
EOF
  for n in "${NODES[@]}"; do
    echo "NodeName=$n NodeAddr=$(node_addr "$n") CPUs=$cpus RealMemory=1000 State=UNKNOWN"
  done >>"$DIR/slurm.conf.tmp"
  echo "PartitionName=kslurm Nodes=ALL Default=YES MaxTime=INFINITE State=UP" \
    >>"$DIR/slurm.conf.tmp"
  chmod 644 "$DIR/slurm.conf.tmp"
  mv "$DIR/slurm.conf.tmp" "$DIR/slurm.conf"
}

setup_network() {
  ip link add "$BRIDGE" type bridge
  ip link set "$BRIDGE" alias "kslurm:$DIR"
  ip addr add "$HOST_ADDR/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local n ns
  for n in "${NODES[@]}"; do
    ns=$(netns_name "$n")
    ip netns add "$ns"
    ip link add "$(veth_name "$n")" type veth peer name eth0 netns "$ns"
    ip link set "$(veth_name "$n")" master "$BRIDGE" up
    ip -n "$ns" addr add "$(node_addr "$n")/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

rest_ping() {
  local token
  token=$(SLURM_CONF=$DIR/slurm.conf scontrol token username=root lifespan=60) || return 1
  curl -sf --unix-socket "$DIR/rest/slurmrestd.sock" -H "X-SLURM-USER-NAME: root" \
    -H "X-SLURM-USER-TOKEN: ${token#SLURM_JWT=}" http://localhost/slurm/v0.0.38/ping
}

probe_done() {
  local state
  state=$(SLURM_CONF=$DIR/slurm.conf scontrol show job -o "$1") || return 1
  [[ $state == *JobState=COMPLETED* ]] && return 0
  [[ $state =~ JobState=(PENDING|CONFIGURING|RUNNING|COMPLETING) ]] ||
    { log "probe job: $state"; exit 1; }
  return 1
}

munge_ok() { munge -S "$DIR/munge/munge.sock" -n | unmunge -S "$DIR/munge/munge.sock"; }

nodes_idle() { # both nodes idle (or busy with a job), none down or drained
  local states
  states=$(SLURM_CONF=$DIR/slurm.conf sinfo -h -N -o '%N %t' 2>/dev/null | sort -u) || return 1
  local n
  for n in "${NODES[@]}"; do
    grep -Eq "^$n (idle|alloc|mix|comp)\$" <<<"$states" || return 1
  done
}

start_daemons() {
  local conf=$DIR/slurm.conf
  munged --socket="$DIR/munge/munge.sock" --key-file="$DIR/munge/munge.key" \
    --log-file="$DIR/munge/munged.log" --pid-file="$RUN/munged.pid" \
    --seed-file="$DIR/munge/munged.seed" 9>&- ||
    die "munged failed to start; see $DIR/munge/munged.log"
  wait_for "$START_TIMEOUT" munged munged munge_ok ||
    die "munged not answering; see $DIR/munge/munged.log"

  # slurmctld checks that its hostname is a SlurmctldHost: give it its own UTS namespace.
  unshare --uts sh -c "hostname $HOST_NAME && exec slurmctld -c -f '$conf'" 9>&- ||
    die "slurmctld failed to start; see $DIR/log/slurmctld.log"
  wait_for "$START_TIMEOUT" slurmctld slurmctld env SLURM_CONF="$conf" scontrol ping ||
    die "slurmctld not answering; see $DIR/log/slurmctld.log"

  # `nsenter --net`, not `ip netns exec`: that remounts /sys and slurmd then finds no cgroupfs.
  local n
  for n in "${NODES[@]}"; do
    nsenter --net="/run/netns/$(netns_name "$n")" unshare --mount --uts --propagation private \
      sh -c "mount --bind '$DIR/hosts' /etc/hosts && hostname $n && exec slurmd -N $n -f '$conf'" \
      9>&- ||
      die "slurmd $n failed to start; see $DIR/log/slurmd-$n.log"
  done

  # slurmrestd refuses root: it opens its socket, then drops to the slurm user. It takes JWT only
  # (SLURM_JWT=daemon; a client sends `scontrol token username=root` as X-SLURM-USER-TOKEN) and jobs
  # run as the token's user; rest_auth/local would run every job as slurm and cannot be combined.
  rm -f "$DIR/rest/slurmrestd.sock"
  SLURM_JWT=daemon setsid slurmrestd -f "$conf" -a rest_auth/jwt \
    -s openapi/v0.0.38 -u slurm "unix:$DIR/rest/slurmrestd.sock" \
    </dev/null >>"$DIR/log/slurmrestd.log" 2>&1 9>&- &
  echo $! >"$RUN/slurmrestd.pid"

  wait_for "$START_TIMEOUT" "nodes ${NODES[*]}" "slurmctld ${NODES[*]/#/slurmd-}" nodes_idle ||
    die "nodes not idle after ${START_TIMEOUT}s: $(SLURM_CONF=$conf sinfo -N 2>&1); see $DIR/log"
  wait_for "$START_TIMEOUT" slurmrestd slurmrestd rest_ping ||
    die "slurmrestd not answering; see $DIR/log/slurmrestd.log"
  # Idle nodes are not yet a working cluster: slurmctld's scheduler first starts batch jobs ~3 s
  # after it starts, and only a job shows that munge and the nodes' addresses work end to end.
  local probe
  probe=$(SLURM_CONF=$conf sbatch --parsable -N"${#NODES[@]}" -t 1 -J kslurm-probe -o /dev/null \
    --wrap 'srun true') || die "could not submit a probe job"
  wait_for "$START_TIMEOUT" "probe job $probe" "slurmctld ${NODES[*]/#/slurmd-}" \
    probe_done "$probe" ||
    die "probe job $probe did not complete: $(SLURM_CONF=$conf scontrol show job -o "$probe" 2>&1)"
}

write_env() {
  cat >"$DIR/env.tmp" <<EOF
SLURM_CONF=$DIR/slurm.conf
KSLURM_HOST_ADDR=$HOST_ADDR
KSLURM_NODES=$(IFS=,; echo "${NODES[*]}")
KSLURM_PARTITION=kslurm
KSLURM_RESTD_SOCKET=$DIR/rest/slurmrestd.sock
KSLURM_MUNGE_SOCKET=$DIR/munge/munge.sock
EOF
  mv "$DIR/env.tmp" "$DIR/env"
  cat "$DIR/env"
}

# ---------------------------------------------------------------------------------------------
# status: prints one line per part; 0 if all run and the nodes are usable.
cmd_status() {
  local ok=0 name pid
  for name in munged slurmctld slurmrestd "${NODES[@]/#/slurmd-}"; do
    if pid=$(pid_of "$name"); then
      echo "$name running pid $pid"
    else
      echo "$name stopped"
      ok=1
    fi
  done
  if [[ $(bridge_owner) == "$DIR" ]]; then
    echo "network $BRIDGE up"
  else
    echo "network down"
    ok=1
  fi
  if ((ok == 0)) && nodes_idle; then
    SLURM_CONF=$DIR/slurm.conf sinfo -h -N -o 'node %N %t'
  else
    ok=1
  fi
  return $ok
}

cmd_up() {
  check_not_owned_by_other
  if [[ -s $DIR/env ]] && cmd_status >/dev/null 2>&1; then
    log "already up"
    cat "$DIR/env"
    return 0
  fi
  # Anything half-started by an earlier run of this DIR goes first.
  cmd_down quiet
  local started=$SECONDS
  write_config
  trap on_up_exit EXIT
  setup_network
  start_daemons
  trap - EXIT
  log "up in $((SECONDS - started))s"
  write_env
}

on_up_exit() {
  trap - EXIT
  log "up failed; tearing down (logs stay in $DIR/log and $DIR/munge)"
  cmd_down quiet || true
}

cmd_down() {
  local quiet=${1:-}
  local owner
  owner=$(bridge_owner)
  if ip link show "$BRIDGE" >/dev/null 2>&1 && [[ $owner != "$DIR" ]]; then
    # Someone else's network: stop only our processes.
    log "network $BRIDGE belongs to '${owner}', leaving it"
    owner=other
  fi
  rm -f "$DIR/env"
  # Daemons first (controller before nodes so it does not mark them down mid-stop), then anything
  # left inside the node namespaces (job steps and their children), then the network.
  local name pid pids=()
  for name in slurmrestd slurmctld "${NODES[@]/#/slurmd-}"; do
    pid=$(pid_of "$name") && pids+=("$pid")
  done
  stop_pid "$STOP_TIMEOUT" "${pids[@]}"
  local n ns
  pids=()
  if [[ $owner != other ]]; then
    for n in "${NODES[@]}"; do
      ns=$(netns_name "$n")
      [[ -e /run/netns/$ns ]] || continue
      mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
    done
  fi
  mapfile -t -O "${#pids[@]}" pids < <(pids_naming_dir)
  stop_pid "$JOB_STOP_TIMEOUT" "${pids[@]}"
  pid=$(pid_of munged) && stop_pid "$STOP_TIMEOUT" "$pid"
  if [[ $owner != other ]]; then
    for n in "${NODES[@]}"; do
      ns=$(netns_name "$n")
      ip link del "$(veth_name "$n")" 2>/dev/null || true
      [[ -e /run/netns/$ns ]] && ip netns del "$ns"
    done
    ip link del "$BRIDGE" 2>/dev/null || true
  fi
  rm -f "$RUN"/*.pid "$DIR/rest/slurmrestd.sock"
  local left
  left=$(leftovers "$owner")
  [[ -z $left ]] || die "down left behind: $left"
  [[ $quiet ]] || log "down: no processes, namespaces, links or mounts left"
}

leftovers() { # prints what this DIR's cluster still holds
  local owner=$1 out=() p
  for p in $(pids_naming_dir); do out+=("process $p"); done
  if [[ $owner != other ]]; then
    local n
    for n in "${NODES[@]}"; do
      [[ -e /run/netns/$(netns_name "$n") ]] && out+=("netns $(netns_name "$n")")
      ip link show "$(veth_name "$n")" >/dev/null 2>&1 && out+=("link $(veth_name "$n")")
    done
    ip link show "$BRIDGE" >/dev/null 2>&1 && out+=("link $BRIDGE")
    grep -E "kslurm|$DIR/" /proc/mounts | while read -r _ m _; do echo "mount $m"; done
  fi
  ((${#out[@]})) && echo "${out[*]}"
  return 0
}

main() {
  (($# == 2)) || die "usage: $0 up|down|status DIR"
  [[ $(id -u) == 0 ]] || die "needs root (network namespaces, slurmd)"
  local cmd=$1
  [[ $cmd != up ]] || mkdir -p "$2"
  [[ -d $2 ]] || { [[ $cmd == down ]] && return 0; die "no such directory: $2"; }
  DIR=$(cd "$2" && pwd -P)
  RUN=$DIR/run
  readonly DIR RUN
  for tool in munged slurmctld slurmd slurmrestd sinfo ip nsenter unshare curl flock; do
    command -v "$tool" >/dev/null || die "$tool not found; run scripts/setup.sh"
  done
  # The network names are machine-wide: one up or down at a time, whatever the DIR. The daemons
  # are started with fd 9 closed so that they do not hold the lock.
  exec 9>/run/lock/kslurm-cluster.lock
  flock -w "$START_TIMEOUT" 9 || die "another slurm-cluster.sh holds /run/lock/kslurm-cluster.lock"
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) die "usage: $0 up|down|status DIR" ;;
  esac
}

main "$@"
