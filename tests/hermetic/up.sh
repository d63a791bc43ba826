#!/usr/bin/env bash
# Brings up the hermetic cluster (DESIGN.md §3): a real control plane built from Go modules (kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd) run by `kwokctl --runtime binary`, one fake node managed by
# KWOK, Strimzi's CRDs, and the Strimzi stand-in. All state lives in $KAFKALAB_HERMETIC_DIR
# (default /tmp/kafkalab-hermetic); down.sh removes it. Nothing is downloaded here except what the
# build/fetch scripts need on a cold cache (Go proxy, Maven Central).
# Output: progress lines on stderr, and finally `export KUBECONFIG=...` on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=${PY:-$ROOT/.venv/bin/python}
STANDIN_TIMEOUT=${KAFKALAB_STANDIN_TIMEOUT:-60}
KUBECONFIG_OUT="$RUN/kubeconfig"

# ---- preconditions: fail before anything is started ------------------------------------------------
[ -x "$PY" ] || die "no Python at $PY" "create the venv (python3 -m venv .venv && .venv/bin/pip install -e '.[test]') or set PY"
# Strimzi's install YAML (CRDs installed here; the notebooks install the operator from the same source):
# $KAFKALAB_STRIMZI_DIR or $KAFKALAB_STRIMZI_SOURCE (a local copy: directory or file), else this machine's
# copy beside the repository when there is one, else the release asset (downloaded once into the cache).
LOCAL_COPY="$ROOT/../shared/strimzi/1.2.0/install/cluster-operator"
STRIMZI_SOURCE=${KAFKALAB_STRIMZI_DIR:-${KAFKALAB_STRIMZI_SOURCE:-}}
if [ -z "$STRIMZI_SOURCE" ] && [ -d "$LOCAL_COPY" ]; then
  STRIMZI_SOURCE=$(cd "$LOCAL_COPY" && pwd)
  say "Strimzi install YAML: $STRIMZI_SOURCE (the local copy beside the repository)"
elif [ -z "$STRIMZI_SOURCE" ]; then
  # the library's own error (URL, reason, fix) on stderr, without a Python traceback
  STRIMZI_SOURCE=$("$PY" -c '
import sys
from kafkalab import strimzi
from kafkalab.errors import KafkalabError
try:
    print(strimzi.fetch_release())
except KafkalabError as e:
    sys.exit(f"{type(e).__name__}: {e}")
') ||
    die "no Strimzi 1.2.0 install YAML (the download failed, reason above)" \
      "set KAFKALAB_STRIMZI_SOURCE to a local copy (the release's YAML file or install/cluster-operator)"
  say "Strimzi install YAML: $STRIMZI_SOURCE (the release asset, cached)"
else
  say "Strimzi install YAML: $STRIMZI_SOURCE"
fi
case "$STRIMZI_SOURCE" in
  *://*) ;;
  *) [ -e "$STRIMZI_SOURCE" ] || die "Strimzi install source $STRIMZI_SOURCE not found" \
    "set KAFKALAB_STRIMZI_SOURCE to Strimzi 1.2.0's install/cluster-operator directory or release YAML"
    STRIMZI_SOURCE=$(realpath "$STRIMZI_SOURCE") ;; # the env file is read from other directories
esac
command -v java >/dev/null || die "java not found (the stand-in runs real Kafka brokers on the JVM)" \
  "install a JRE 17+, e.g. apt-get install openjdk-17-jre-headless"

kube_ready() { # the cluster in $RUN answers /readyz
  [ -f "$KUBECONFIG_OUT" ] && [ -f "$RUN/bin-dir" ] &&
    "$(cat "$RUN/bin-dir")/kubectl" --kubeconfig "$KUBECONFIG_OUT" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}
standin_alive() { [ -f "$RUN/standin.pid" ] && owned_alive "$(cat "$RUN/standin.pid")"; }

# ---- an earlier run: reuse it when healthy, else clear it ----------------------------------------
if [ -e "$RUN" ]; then
  if [ -f "$RUN/up.done" ] && kube_ready && { [ ! -f "$RUN/standin.pid" ] || standin_alive; }; then
    say "hermetic cluster already up in $RUN"
    echo "export KUBECONFIG=$KUBECONFIG_OUT"
    exit 0
  fi
  say "found a stale or partial run in $RUN; clearing it with down.sh"
  "$HERMETIC/down.sh" || die "could not clear $RUN" "see the lines above, then rerun make hermetic-down"
fi

ok=0
cleanup() {
  [ $ok -eq 1 ] && return
  echo "up.sh: failed — stopping everything it started (down.sh)" >&2
  "$HERMETIC/down.sh" >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$RUN"
touch "$MARKER"

# ---- binaries (cached; a cold build takes ~11 min on 2 cores) ---------------------------------------
say "control plane binaries (build-control-plane.sh; instant when cached)"
BIN=$("$HERMETIC/build-control-plane.sh") || die "building the control plane failed (see above)" \
  "fix the cause named above and rerun; finished binaries stay cached in $CACHE"
echo "$BIN" >"$RUN/bin-dir"
KUBECTL=("$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT")
K8S_VERSION=$("$BIN/kube-apiserver" --version | awk '{print $2}')

# fetched here so a cold fetch fails up front with its own message; the stand-in asks the same
# script for the directory later, which is then instant
if [ -x "$HERMETIC/fetch-kafka.sh" ]; then
  say "Kafka jars (fetch-kafka.sh; instant when cached)"
  "$HERMETIC/fetch-kafka.sh" >/dev/null || die "fetching the Kafka jars failed (see above)" \
    "fix the cause named above and rerun"
else
  say "tests/hermetic/fetch-kafka.sh not present yet: no Kafka jars fetched"
fi

# ---- control plane --------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -n "${KAFKALAB_APISERVER_PORT:-}" ]; then
  PORT=$KAFKALAB_APISERVER_PORT
  port_free "$PORT" || die "port $PORT (KAFKALAB_APISERVER_PORT) is in use: $(ss -Hltnp "sport = :$PORT" 2>/dev/null | awk '{print $NF}')" \
    "stop that process or unset KAFKALAB_APISERVER_PORT to pick a free port"
else
  PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

# kwokctl binds 0.0.0.0 by default; this cluster is for this machine only. One controller-manager and one
# scheduler, so no leader election: on a loaded machine a missed lease renewal made kube-controller-manager
# exit, and kwok's binary runtime does not restart it (namespaces then hang in Terminating).
cat >"$RUN/kwokctl.yaml" <<EOF
kind: KwokctlConfiguration
apiVersion: config.kwok.x-k8s.io/v1alpha1
options:
  bindAddress: 127.0.0.1
componentsPatches:
  - name: kube-controller-manager
    extraArgs:
      - key: leader-elect
        value: "false"
  - name: kube-scheduler
    extraArgs:
      - key: leader-elect
        value: "false"
EOF

say "starting etcd, kube-apiserver (127.0.0.1:$PORT), controller-manager, scheduler, kwok (kwokctl, binary runtime)"
# KWOK_WORKDIR keeps kwokctl's state under $RUN; --kubeconfig "" stops it editing ~/.kube/config;
# every component is a local path, so kwokctl never downloads (it symlinks them into its workdir).
# kubectl on PATH: kwokctl looks there before it would fetch one.
if ! KWOK_WORKDIR="$KWOK_DIR" KWOK_KUBE_VERSION="$K8S_VERSION" KWOK_KUBECTL_BINARY="$BIN/kubectl" PATH="$BIN:$PATH" \
  "$BIN/kwokctl" --config "$RUN/kwokctl.yaml" create cluster --name "$CLUSTER" --runtime binary \
  --kube-apiserver-binary "$BIN/kube-apiserver" \
  --kube-controller-manager-binary "$BIN/kube-controller-manager" \
  --kube-scheduler-binary "$BIN/kube-scheduler" \
  --kwok-controller-binary "$BIN/kwok" \
  --etcd-binary "$BIN/etcd" \
  --kube-apiserver-port "$PORT" \
  --kubeconfig "" --wait 120s --timeout 180s >"$RUN/kwokctl-create.log" 2>&1; then
  tail -n 15 "$RUN/kwokctl-create.log" >&2
  for f in "$KWOK_DIR/clusters/$CLUSTER"/logs/*.log; do echo "--- $f" >&2; tail -n 5 "$f" >&2; done
  die "kwokctl could not start the control plane (log above)" \
    "fix the cause in the log; if a port was taken, just rerun (ports are chosen afresh)"
fi

# our kubeconfig: self-contained (certs inlined) and with the documented context name
"$BIN/kubectl" --kubeconfig "$KWOK_DIR/clusters/$CLUSTER/kubeconfig.yaml" config view --raw --flatten >"$KUBECONFIG_OUT"
"${KUBECTL[@]}" config rename-context "kwok-$CLUSTER" "$CONTEXT" >/dev/null
chmod 600 "$KUBECONFIG_OUT"
"${KUBECTL[@]}" get --raw /readyz >/dev/null || die "kube-apiserver on 127.0.0.1:$PORT is not ready" \
  "see $KWOK_DIR/clusters/$CLUSTER/logs/kube-apiserver.log"
say "API server ready: $("${KUBECTL[@]}" version -o json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"

# ---- the one node -----------------------------------------------------------------------------------
# KWOK fakes the kubelet for nodes with this annotation: it keeps the node Ready and moves pods bound to
# it to Running/Ready. No taint, so ordinary Deployments schedule here. Capacity is generous on purpose:
# it is paper, and Strimzi-sized requests must fit.
say "creating node $NODE (KWOK-managed)"
"${KUBECTL[@]}" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $NODE
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 200Gi}
  capacity: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 200Gi}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: $K8S_VERSION
    kubeProxyVersion: $K8S_VERSION
EOF
"${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE" --timeout=60s >/dev/null ||
  die "node $NODE did not become Ready in 60s" "see $KWOK_DIR/clusters/$CLUSTER/logs/kwok-controller.log"

# ---- Strimzi CRDs only (the operator itself is installed by notebook 02 / tests) ------------------
# the CRDs out of the install YAML (a directory of files, one file, or the release URL: cached), unchanged:
# the API server is the judge of them
CRDS="$RUN/strimzi-crds.yaml"
n=$("$PY" - "$STRIMZI_SOURCE" "$CRDS" <<'EOF'
import sys
from pathlib import Path
import yaml
from kafkalab import kube, strimzi
source = sys.argv[1]
path = strimzi.fetch_release(source) if "://" in source else Path(source)
files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
crds = [o for f in files for o in kube.load_yaml(f) if o.get("kind") == "CustomResourceDefinition"]
if not crds:
    sys.exit(f"no CustomResourceDefinition in {source}")
with open(sys.argv[2], "w") as f:
    yaml.safe_dump_all(crds, f)
print(len(crds))
EOF
) || die "cannot read the Strimzi CRDs from $STRIMZI_SOURCE (reason above)" \
  "point KAFKALAB_STRIMZI_SOURCE at Strimzi 1.2.0's install/cluster-operator directory or release YAML"
say "installing $n Strimzi CRDs from $STRIMZI_SOURCE"
# server-side: the Kafka CRD is larger than the client-side apply annotation allows
out=$("${KUBECTL[@]}" apply --server-side --force-conflicts --filename="$CRDS" -o name 2>&1) ||
  die "the API server rejected a Strimzi CRD: $(echo "$out" | grep -v '^customresourcedefinition' | tr -s '\n' ' ' | cut -c1-300)" \
    "check that $STRIMZI_SOURCE holds Strimzi 1.2.0's unmodified install files"
"${KUBECTL[@]}" wait --for=condition=Established --timeout=60s --filename="$CRDS" >/dev/null ||
  die "Strimzi CRDs not Established within 60s" "see $KWOK_DIR/clusters/$CLUSTER/logs/kube-apiserver.log"
# Established is not yet usable: for a second or so the new resources answer 429 "storage is
# (re)initializing". Wait until every one can be listed, so the first client (stand-in, notebook) is not
# the one to find out.
resources=$(echo "$out" | sed 's|^customresourcedefinition.apiextensions.k8s.io/||' | paste -sd,)
for ((i = 0; ; i++)); do
  "${KUBECTL[@]}" get "$resources" --all-namespaces --request-timeout=5s >/dev/null 2>&1 && break
  [ $i -lt 150 ] || die "Strimzi resources not servable 30s after their CRDs were Established" \
    "see $KWOK_DIR/clusters/$CLUSTER/logs/kube-apiserver.log"
  sleep 0.2
done

# ---- the Strimzi stand-in ---------------------------------------------------------------------------
cat >"$RUN/env" <<EOF
export KUBECONFIG=$KUBECONFIG_OUT
export KAFKALAB_STRIMZI_SOURCE=$STRIMZI_SOURCE
export KAFKALAB_HERMETIC_DIR=$RUN
export KUBECACHEDIR=$KUBECACHEDIR
EOF

if [ -f "$HERMETIC/standin/__main__.py" ]; then
  say "starting the Strimzi stand-in (log: $RUN/standin.log)"
  mkdir -p "$RUN/standin"
  # setsid: its own session and process group, so a Ctrl-C in this terminal does not reach it and
  # down.sh can signal it together with the brokers it starts. In a non-interactive shell the
  # background job is not a group leader, so setsid execs in place and $! is the Python process.
  # KAFKALAB_HERMETIC_RUN marks it and every process it starts as this run's, for down.sh.
  (cd "$ROOT" && KUBECONFIG="$KUBECONFIG_OUT" KAFKALAB_HERMETIC_RUN="$RUN" exec setsid "$PY" -m tests.hermetic.standin --kubeconfig "$KUBECONFIG_OUT" --state-dir "$RUN/standin" \
    </dev/null >"$RUN/standin.log" 2>&1) &
  echo $! >"$RUN/standin.pid"
  for ((i = 0; i < STANDIN_TIMEOUT * 5; i++)); do
    grep -q "standin ready" "$RUN/standin.log" && break
    if ! kill -0 "$(cat "$RUN/standin.pid")" 2>/dev/null; then
      tail -n 20 "$RUN/standin.log" >&2
      die "the stand-in exited during startup (log above)" "fix the cause in the log and rerun"
    fi
    sleep 0.2
  done
  if ! grep -q "standin ready" "$RUN/standin.log"; then
    tail -n 20 "$RUN/standin.log" >&2
    die "the stand-in did not report 'standin ready' within ${STANDIN_TIMEOUT}s (log above)" \
      "fix the cause in the log, or raise KAFKALAB_STANDIN_TIMEOUT"
  fi
else
  say "tests/hermetic/standin not present yet: the stand-in is not started"
fi

touch "$RUN/up.done"
ok=1
say "hermetic cluster ready (context $CONTEXT); settings in $RUN/env"
echo "export KUBECONFIG=$KUBECONFIG_OUT"
