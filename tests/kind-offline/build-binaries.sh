#!/usr/bin/env bash
# Builds every binary the kind-offline node needs from published Go modules (plus one C file), into a cache
# folder named by the versions, and prints that folder. A finished binary is never rebuilt.
#   kind                                   sigs.k8s.io/kind
#   kubeadm kubelet kube-proxy             k8s.io/kubernetes (the hermetic tier's wrapper-module trick)
#   kube-apiserver kube-controller-manager kube-scheduler kubectl etcd
#                                          taken from tests/hermetic/build-control-plane.sh (same versions)
#   containerd containerd-shim-runc-v2 ctr github.com/containerd/containerd/v2
#   crictl                                 sigs.k8s.io/cri-tools
#   coredns                                github.com/coredns/coredns
#   local-path-provisioner                 github.com/rancher/local-path-provisioner
#   pause                                  build/pause/linux/pause.c inside the k8s.io/kubernetes module
# Run it niced: it is a long CPU-bound build (cold: ~25-40 min on 2 cores).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/versions.sh"
mkdir -p "$BIN"

need() { command -v "$1" >/dev/null || { echo "build-binaries: '$1' not found — $2" >&2; exit 1; }; }
log() { echo "[$(date +%T)] build-binaries: $*" >&2; }
have() { for b in "$@"; do [ -x "$BIN/$b" ] || return 1; done; }

need go "install Go 1.26+ (https://go.dev/doc/install) or Debian's golang package"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
work=$(mktemp -d "${TMPDIR:-/tmp}/kafkalab-kind-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

fetch() { # module@version -> its directory in the module cache
  local out
  out=$(cd "$work" && go mod download -json "$1" 2>&1) || {
    echo "build-binaries: cannot download $1 from the Go module proxy ($(go env GOPROXY)):" >&2
    echo "$out" | grep -m1 -E '"Error"|error' >&2 || true
    echo "fix: check access to the Go module proxy, or set GOPROXY" >&2
    exit 1
  }
  echo "$out" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'
}

# go install into a staging folder, then move: a half-built binary never lands in $BIN
ginstall() { # binaries... -- go install args...
  local names=() ; while [ "$1" != "--" ]; do names+=("$1"); shift; done; shift
  have "${names[@]}" && return 0
  log "building ${names[*]}"
  GOBIN="$work/out" go install -trimpath "$@"
  for b in "${names[@]}"; do mv -f "$work/out/$b" "$BIN/$b"; done
}

fetch "sigs.k8s.io/kind@$KIND_VERSION" >/dev/null
ginstall kind -- -ldflags "-s -w" "sigs.k8s.io/kind@$KIND_VERSION"

# the control plane binaries and etcd are the hermetic tier's, built the same way from the same versions
if ! have kube-apiserver kube-controller-manager kube-scheduler kubectl etcd; then
  cp=$(K8S_VERSION=$K8S_VERSION ETCD_VERSION=$ETCD_VERSION "$HERE/../hermetic/build-control-plane.sh")
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd; do cp -f "$cp/$b" "$BIN/$b"; done
fi

k8s_src=$(fetch "k8s.io/kubernetes@$K8S_VERSION")
if ! have kubeadm kubelet kube-proxy; then
  # wrapper module: k8s.io/kubernetes replaces k8s.io/* with ./staging/...; point them at the published v0.Y
  dir="$work/kubernetes"; mkdir -p "$dir"
  printf 'module kafkalab.local/kubernetes\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" >"$dir/go.mod"
  awk '/=> *\.\.?\// && !/FORBIDDEN/ {print ($1 == "replace") ? $2 : $1}' "$k8s_src/go.mod" | sort -u |
    while read -r mod; do echo "replace $mod => $mod v0.${K8S_VERSION#v1.}" >>"$dir/go.mod"; done
  ldflags="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$dir" && ginstall kubeadm kubelet kube-proxy -- -ldflags "$ldflags" \
    k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
fi

if ! have pause; then
  need gcc "apt-get install gcc libc6-dev (pause is a small static C program)"
  log "building pause"
  gcc -static -Os -DVERSION="$PAUSE_VERSION-kafkalab" -o "$work/pause" "$k8s_src/build/pause/linux/pause.c"
  strip "$work/pause" && mv "$work/pause" "$BIN/pause"
fi

fetch "sigs.k8s.io/cri-tools@$CRICTL_VERSION" >/dev/null
ginstall crictl -- -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
  "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
fetch "github.com/coredns/coredns@$COREDNS_VERSION" >/dev/null
ginstall coredns -- -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
fetch "github.com/rancher/local-path-provisioner@$LPP_VERSION" >/dev/null
ginstall local-path-provisioner -- -ldflags "-s -w" "github.com/rancher/local-path-provisioner@$LPP_VERSION"
fetch "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" >/dev/null
ginstall containerd containerd-shim-runc-v2 ctr -- -tags "no_aufs no_zfs no_btrfs no_devmapper" \
  -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"

log "all binaries in $BIN"
echo "$BIN"
