#!/usr/bin/env bash
# Builds the hermetic control plane from published Go modules into a versioned cache:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd                                                              (go.etcd.io/etcd/server/v3)
#   kwok, kwokctl                                                     (sigs.k8s.io/kwok)
# A finished build is never redone: each binary set lives under a folder named by its version.
# Why a wrapper module: k8s.io/kubernetes and etcd's go.mod replace their sibling modules with local
# paths (./staging/..., ../api), so `go install pkg@version` refuses them. We require the module and
# point every such replace at the published version instead.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
CACHE=${KAFKALAB_CACHE:-$HOME/.cache/kafkalab}
BIN="$CACHE/control-plane/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION/bin"

need() { command -v "$1" >/dev/null || { echo "build-control-plane: '$1' not found — $2" >&2; exit 1; }; }
all=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl)
missing=()
for b in "${all[@]}"; do [ -x "$BIN/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$BIN"; exit 0; fi
need go "install Go 1.26+ (https://go.dev/doc/install) or your distro's golang package" # only to build

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}
work=$(mktemp -d "${TMPDIR:-/tmp}/kafkalab-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN.partial"

# A registry that does not answer should fail with one clear line, not a Go stack of errors.
fetch() {
  if ! out=$(cd "$work" && go mod download -json "$1" 2>&1); then
    echo "build-control-plane: cannot download $1 from the Go module proxy ($(go env GOPROXY)):" >&2
    echo "$out" | grep -m1 -E '"Error"|error' >&2 || true
    echo "fix: check network access to the Go module proxy, or set GOPROXY" >&2
    exit 1
  fi
  echo "$out" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'
}

wrapper() { # name, required module@version, local-replace source go.mod, replace-version
  local dir="$work/$1" req=$2 gomod=$3 ver=$4
  mkdir -p "$dir"
  printf 'module kafkalab.local/%s\n\ngo 1.26\n\nrequire %s %s\n' "$1" "${req%@*}" "${req#*@}" > "$dir/go.mod"
  # every "X => ./something" or "X => ../something" replace becomes "X => X <published version>";
  # both forms occur: inside a "replace (...)" block and as a one-line "replace X => ./Y". Replaces that
  # point at ./FORBIDDEN_DEPENDENCY only guard against importing a module, so they are dropped.
  awk '/=> *\.\.?\// && !/FORBIDDEN/ {print ($1 == "replace") ? $2 : $1}' "$gomod" | sort -u | while read -r mod; do
    echo "replace $mod => $mod $ver" >> "$dir/go.mod"
  done
  echo "$dir"
}

log() { echo "[$(date +%T)] $*" >&2; }

# A stage whose go build/install returned 0 produced complete binaries: move them into $BIN at once,
# so a later failure (or Ctrl-C) does not throw away a 10-minute Kubernetes build.
promote() {
  mkdir -p "$BIN"
  for b in "$@"; do mv -f "$BIN.partial/$b" "$BIN/$b"; done
}

if [[ " ${missing[*]} " =~ " kube-apiserver "|" kube-controller-manager "|" kube-scheduler "|" kubectl " ]]; then
  src=$(fetch "k8s.io/kubernetes@$K8S_VERSION")
  staging="v0.${K8S_VERSION#v1.}"
  dir=$(wrapper kubernetes "k8s.io/kubernetes@$K8S_VERSION" "$src/go.mod" "$staging")
  ldflags="-s -w"
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
    ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  done
  log "building Kubernetes $K8S_VERSION (cold: 10-20 min on 2 cores)"
  (cd "$dir" && GOBIN="$BIN.partial" go install -trimpath -ldflags "$ldflags" \
     k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
     k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  promote kube-apiserver kube-controller-manager kube-scheduler kubectl
fi

if [[ " ${missing[*]} " =~ " etcd " ]]; then
  src=$(fetch "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  dir=$(wrapper etcd "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "$src/go.mod" "$ETCD_VERSION")
  log "building etcd $ETCD_VERSION"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$BIN.partial/etcd" go.etcd.io/etcd/server/v3)
  promote etcd
fi

if [[ " ${missing[*]} " =~ " kwok "|" kwokctl " ]]; then
  fetch "sigs.k8s.io/kwok@$KWOK_VERSION" >/dev/null
  log "building KWOK $KWOK_VERSION"
  GOBIN="$BIN.partial" go install -trimpath -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  promote kwok kwokctl
fi

rm -rf "$BIN.partial"
for b in "${all[@]}"; do [ -x "$BIN/$b" ] || { echo "build-control-plane: $b was not built" >&2; exit 1; }; done
echo "$BIN"
