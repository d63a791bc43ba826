# Shared settings and helpers of the kind-offline tier (sourced by up.sh, down.sh, build-images.sh).
#
# Where things live:
#   $KO_CACHE (~/.cache/kafkalab/kind-offline/<versions>/)  binaries, root filesystems: kept by down.sh
#   $DOCKER_DATA (~/.cache/kafkalab/kind-offline/docker)     our dockerd's data-root: the built images stay
#                                                             in docker's store between runs (the cache)
#   $RUN (/tmp/kafkalab-kind-offline)                       this run: dockerd's log, kubeconfig, env file
#   $EXEC_ROOT (/run/kafkalab-kind-offline)                 dockerd's exec-root, pidfile and socket
# Nothing here touches the default Docker socket or /var/lib/docker: another Docker on this machine is left
# alone, and kafkalab finds ours through DOCKER_HOST (written to $RUN/env).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$HERE/versions.sh"
DOCKER_DATA="$CACHE/kind-offline/docker"
RUN=${KAFKALAB_KIND_OFFLINE_DIR:-/tmp/kafkalab-kind-offline}
EXEC_ROOT=/run/kafkalab-kind-offline
export DOCKER_HOST="unix://$EXEC_ROOT/docker.sock"
CLUSTER=${KAFKALAB_KIND_OFFLINE_CLUSTER:-kafkalab}   # the notebooks' default kind_cluster_name
NODE_IMAGE="kafkalab.local/kind-node:$K8S_VERSION"   # never on a registry: the name says it is ours
PY=${PY:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3

say() { printf '[%s %4ss] %s\n' "$(date +%T)" "$SECONDS" "$*" >&2; }
die() { echo "$(basename "$0"): $1 — fix: $2" >&2; exit 1; }
# long, CPU- or disk-heavy steps run at the lowest priority: the machine is shared with timed test runs
niced() { nice -n 19 ionice -c3 "$@"; }

# docker build with the classic builder (COPY-only Dockerfiles, no network): quiet unless it fails
docker_build() {
  local out
  out=$(DOCKER_BUILDKIT=0 niced docker build -q --network none "$@" 2>&1 >/dev/null) || { echo "$out" >&2; return 1; }
}

dockerd_pid() { # our dockerd's pid, if it runs
  local pid
  pid=$(cat "$EXEC_ROOT/dockerd.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qF "$EXEC_ROOT" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# Start Debian's dockerd (docker.io) for this tier unless it already runs.
#   --ip-forward=false  the kernel routes nothing from containers off this machine
#   --iptables=false    no NAT rules on the host (port mappings still work: docker-proxy on 127.0.0.1)
#   --bridge=none       no docker0; kind makes its own network
#   --dns 127.0.0.1     containers' lookups of outside names go nowhere (Docker's embedded DNS would
#                       otherwise forward them to the host's resolver)
#   runtime nocap       runc without CAP_SYS_RESOURCE, which this machine's bounding set lacks (runc-nocap)
dockerd_start() {
  if dockerd_pid >/dev/null; then say "dockerd already running ($DOCKER_HOST)"; return 0; fi
  command -v dockerd >/dev/null && [ -x /usr/bin/runc ] ||
    die "dockerd or runc not installed" "apt-get install docker.io (Debian's dockerd 20.10, containerd, runc)"
  mkdir -p "$EXEC_ROOT" "$DOCKER_DATA" "$RUN"
  say "starting dockerd (data-root $DOCKER_DATA, socket $DOCKER_HOST, log $RUN/dockerd.log)"
  setsid dockerd --host "$DOCKER_HOST" --data-root "$DOCKER_DATA" --exec-root "$EXEC_ROOT/exec" \
    --pidfile "$EXEC_ROOT/dockerd.pid" --ip-forward=false --iptables=false --ip6tables=false \
    --bridge=none --dns 127.0.0.1 --storage-driver overlay2 \
    --add-runtime "nocap=$HERE/runc-nocap" --default-runtime nocap \
    </dev/null >"$RUN/dockerd.log" 2>&1 &
  touch "$EXEC_ROOT/started-by-up.sh"
  local i
  for ((i = 0; i < 60; i++)); do
    docker version >/dev/null 2>&1 && { say "dockerd up: server $(docker version -f '{{.Server.Version}}')"; return 0; }
    sleep 1
  done
  tail -n 20 "$RUN/dockerd.log" >&2
  die "dockerd did not answer on $DOCKER_HOST within 60s (log above)" "fix the cause in the log, then rerun up.sh"
}

dockerd_stop() {
  local pid i
  pid=$(dockerd_pid) || { rm -rf "$EXEC_ROOT"; return 0; }
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { say "dockerd still up after 30s: SIGKILL"; kill -KILL "$pid"; sleep 1; }
  # dockerd bind-mounts its data-root onto itself (to make it a private mount) and leaves that behind
  while mountpoint -q "$DOCKER_DATA"; do umount "$DOCKER_DATA" || break; done
  rm -rf "$EXEC_ROOT"
}
