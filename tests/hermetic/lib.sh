# Shared settings and helpers for up.sh and down.sh (sourced, never run).
# Everything the hermetic cluster owns lives under $RUN, so down.sh can find and remove all of it:
# a process is ours when its command line names $RUN (the control plane, brokers) or its environment
# carries KAFKALAB_HERMETIC_RUN=$RUN (set for the stand-in, inherited by everything it starts).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERMETIC="$ROOT/tests/hermetic"
CACHE=${KAFKALAB_CACHE:-$HOME/.cache/kafkalab}
RUN=$(realpath -m "${KAFKALAB_HERMETIC_DIR:-/tmp/kafkalab-hermetic}")
CLUSTER=kafkalab-hermetic        # kwokctl cluster name
CONTEXT=kafkalab-hermetic        # context name in $RUN/kubeconfig
NODE=kafkalab-node
KWOK_DIR="$RUN/kwok"             # KWOK_WORKDIR: keeps kwokctl out of ~/.kwok
MARKER="$RUN/.kafkalab-hermetic" # written first by up.sh; down.sh only deletes a dir that carries it
export KUBECACHEDIR="$RUN/kube-cache" # kubectl's discovery cache, else it lands in ~/.kube/cache

case "$RUN" in
  / | /tmp | /home | /root | "$HOME" | "$ROOT")
    echo "hermetic: refusing KAFKALAB_HERMETIC_DIR=$RUN — fix: point it at a dedicated directory" >&2
    exit 1 ;;
esac

# one progress line, with seconds since the script started
say() { printf '[%3ss] %s\n' "$SECONDS" "$*" >&2; }

# one failure line naming cause and fix, then exit
die() { echo "$(basename "$0"): $1 — fix: $2" >&2; exit 1; }

# the process $1 belongs to this run (see the header); false for a pid that no longer exists
owned() {
  { tr '\0' '\n' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qE "$OWNED_ARG" ||
    { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "KAFKALAB_HERMETIC_RUN=$RUN"
}
re_escape() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'; }
OWNED_ARG="$(re_escape "$RUN")(/|\$)" # $RUN itself or a path below it, not /tmp/kafkalab-hermetic2

# pid is alive and ours (guards against a recycled pid in a stale pidfile)
owned_alive() { kill -0 "$1" 2>/dev/null && owned "$1"; }

# PIDs (one a line) of every process of this run. The caller and its ancestors are left out: a shell
# that merely ran this script is not cluster state.
run_pids() {
  local self=" $$ " p=$$ d pid
  while [ "$p" -gt 1 ] 2>/dev/null; do
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
    self+="$p "
  done
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [[ $self == *" $pid "* ]] && continue
    owned "$pid" && echo "$pid"
  done
  return 0
}

# SIGTERM the given pids, wait up to $1 seconds, then SIGKILL what is left.
terminate() {
  local grace=$1 pid left i
  shift
  [ $# -eq 0 ] && return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < grace * 5; i++)); do
    left=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.2
  done
  say "still running after ${grace}s, killing: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
  sleep 0.2
}

# the bin dir of the cached control plane, without building (down.sh must never build)
cached_bin() {
  if [ -f "$RUN/bin-dir" ]; then cat "$RUN/bin-dir"; return; fi
  ls -d "$CACHE"/control-plane/*/bin 2>/dev/null | tail -n1
}
