#!/usr/bin/env bash
# The kind-offline tier, down: deletes the kind cluster, every container, network and volume of our dockerd,
# stops that dockerd if up.sh started it, and removes $RUN. The caches stay: binaries and root filesystems in
# $KO_CACHE, images in our dockerd's data-root. Idempotent, and safe after a failed up.sh.
set -uo pipefail # no -e: a step that finds nothing must not stop the later ones
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export PATH="$BIN:$PATH"

if dockerd_pid >/dev/null; then
  if [ -x "$BIN/kind" ]; then
    for c in $(kind get clusters 2>/dev/null); do
      say "kind delete cluster --name $c"
      kind delete cluster --name "$c" --kubeconfig "$RUN/kubeconfig" >/dev/null 2>&1
    done
  fi
  # anything else on our dockerd (a failed node-image build's container, say): containers, volumes, networks
  ids=$(docker ps -aq)
  [ -n "$ids" ] && { say "removing containers: $(echo $ids)"; docker rm -f -v $ids >/dev/null; }
  vols=$(docker volume ls -q)
  [ -n "$vols" ] && { say "removing volumes: $(echo $vols)"; docker volume rm -f $vols >/dev/null; }
  for n in $(docker network ls --format '{{.Name}}'); do
    case $n in bridge | host | none) ;; *) say "removing network $n"; docker network rm "$n" >/dev/null ;; esac
  done
  if [ -f "$EXEC_ROOT/started-by-up.sh" ]; then
    dockerd_stop
  else
    say "dockerd was not started by up.sh: left running"
  fi
fi
[ -d "$EXEC_ROOT" ] && ! dockerd_pid >/dev/null && rm -rf "$EXEC_ROOT"
rm -rf "$RUN"
say "kind-offline down (caches kept: $KO_CACHE, images in $DOCKER_DATA)"
