#!/usr/bin/env bash
# Stops the hermetic cluster and removes $KAFKALAB_HERMETIC_DIR (default /tmp/kafkalab-hermetic).
# Safe after a failed or partial up.sh, and idempotent: each step skips what is not there.
# Order: the stand-in first (it stops its brokers), then kwokctl's control plane, then anything still
# running whose pidfile or command line points into $RUN, then the directory.
set -uo pipefail # no -e: a step that finds nothing must not stop the later ones
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -e "$RUN" ] && [ ! -f "$MARKER" ] && [ -n "$(ls -A "$RUN" 2>/dev/null)" ]; then
  die "$RUN exists but was not made by up.sh (no $(basename "$MARKER"))" \
    "remove it yourself, or set KAFKALAB_HERMETIC_DIR to the directory up.sh used"
fi

# ---- stand-in: SIGTERM lets it stop its brokers cleanly -----------------------------------------
if [ -f "$RUN/standin.pid" ]; then
  pid=$(cat "$RUN/standin.pid")
  if owned_alive "$pid"; then
    say "stopping the stand-in (pid $pid)"
    terminate 30 "$pid"
    # its process group holds the brokers it started, unless they already went with it
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
fi

# ---- control plane --------------------------------------------------------------------------------
if [ -d "$KWOK_DIR/clusters/$CLUSTER" ]; then
  bin=$(cached_bin)
  if [ -n "$bin" ] && [ -x "$bin/kwokctl" ]; then
    say "deleting the control plane (kwokctl delete cluster)"
    # kwokctl v0.8.0 delete rejects --kubeconfig "" ("empty path"), and its default is ~/.kube/config:
    # name a file that does not exist so it edits nothing outside $RUN
    KWOK_WORKDIR="$KWOK_DIR" timeout 60 "$bin/kwokctl" delete cluster --name "$CLUSTER" \
      --kubeconfig "$KWOK_DIR/no-kubeconfig" \
      >"$RUN/kwokctl-delete.log" 2>&1 || say "kwokctl delete failed; falling back to the pidfiles"
  fi
fi

# ---- leftovers: pidfiles under $RUN, then any process naming $RUN ------------------------------
pids=()
if [ -d "$RUN" ]; then
  while IFS= read -r f; do
    pid=$(cat "$f" 2>/dev/null)
    [[ $pid =~ ^[0-9]+$ ]] && owned_alive "$pid" && pids+=("$pid")
  done < <(find "$RUN" -name '*.pid' -type f 2>/dev/null)
fi
mapfile -t -O "${#pids[@]}" pids < <(run_pids)
if [ ${#pids[@]} -gt 0 ]; then
  mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
  say "stopping leftover processes: $(for p in "${pids[@]}"; do printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
  terminate 10 "${pids[@]}"
fi

left=$(run_pids)
if [ -n "$left" ]; then
  for p in $left; do echo "  still running: $p $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-150)" >&2; done
  die "processes in $RUN survived SIGKILL (listed above)" "check them with ps; they may be stuck in the kernel"
fi

if [ -e "$RUN" ]; then
  rm -rf "$RUN" || die "could not remove $RUN" "check its permissions"
  say "removed $RUN"
fi
say "hermetic cluster down"
