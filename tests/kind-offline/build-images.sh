#!/usr/bin/env bash
# Builds the kind-offline tier's images into our dockerd's store (needs up.sh's dockerd and build-binaries.sh's
# binaries). Each step is skipped when its result exists, so a second run takes seconds.
#   1. two Debian bookworm root filesystems (debootstrap --variant=minbase), cached as tarballs in $KO_CACHE:
#        node  systemd, iptables, runc, CNI plugins ... plus kind's base-image files and containerd/crictl
#        apps  a JRE, Python, iptables: the base of kube-proxy, kind's storage helper, Kafka, the operator
#   2. kind's base image (node rootfs, `docker import`), and the images kubeadm and kind want in the node,
#      under the names they look for, each labelled as a kafkalab build
#   3. the node image: `kind build node-image --type file` from a Kubernetes server tarball we assemble
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -x "$BIN/kind" ] && [ -x "$BIN/kubeadm" ] && [ -x "$BIN/containerd" ] ||
  die "node binaries missing in $BIN" "run tests/kind-offline/build-binaries.sh first (cold: 25-40 min)"
docker version >/dev/null 2>&1 || die "no dockerd on $DOCKER_HOST" "run tests/kind-offline/up.sh (it starts one)"
command -v debootstrap >/dev/null || die "debootstrap not installed" "apt-get install debootstrap"
MIRROR=${KAFKALAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KIND_SRC=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
[ -d "$KIND_SRC/images/base/files" ] || die "kind $KIND_VERSION's module source not found" "check the Go module proxy"
LABEL='org.opencontainers.image.vendor="kafkalab (built locally by tests/kind-offline, not the upstream image)"'
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
work=$(mktemp -d /var/tmp/kafkalab-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

NODE_PKGS=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,e2fsprogs,bash,ca-certificates,curl,jq,procps,runc,containernetworking-plugins
APPS_PKGS=openjdk-17-jre-headless,python3,iptables,nftables,conntrack,procps,ca-certificates,bash

# ---- 1. root filesystems ------------------------------------------------------------------------------
rootfs() { # name packages customise-function -> $KO_CACHE/rootfs/<name>-<hash>.tar
  local name=$1 pkgs=$2 fn=$3 hash out dir
  hash=$(echo "$pkgs $(declare -f "$fn")" | sha256sum | cut -c1-12)
  out="$KO_CACHE/rootfs/$name-$hash.tar"
  if [ ! -f "$out" ]; then
    mkdir -p "$KO_CACHE/rootfs"
    dir="$work/rootfs-$name"
    say "debootstrap --variant=minbase bookworm: $name root filesystem (cold: a few minutes)"
    niced debootstrap --variant=minbase --include="$pkgs" bookworm "$dir" "$MIRROR" >"$work/debootstrap-$name.log" 2>&1 || {
      tail -n 20 "$work/debootstrap-$name.log" >&2
      die "debootstrap of the $name root filesystem failed (log above)" "check access to $MIRROR (KAFKALAB_DEBIAN_MIRROR)"
    }
    "$fn" "$dir"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log
    niced tar --numeric-owner -C "$dir" -cf "$out.partial" . && mv "$out.partial" "$out"
    find "$KO_CACHE/rootfs" -name "$name-*.tar" ! -path "$out" -delete # older recipes' trees
    rm -rf "$dir"
  fi
  echo "$out"
}

node_fs() { # what kind's images/base/Dockerfile does, on our debootstrap tree
  local d=$1 f="$KIND_SRC/images/base/files"
  install -m 0755 "$f"/usr/local/bin/* "$d/usr/local/bin/"
  mkdir -p "$d/kind/bin" "$d/etc/containerd" "$d/etc/default" "$d/etc/sysctl.d" "$d/etc/systemd/system/kubelet.service.d"
  install -m 0644 "$f"/kind/README.txt "$d/kind/" && install -m 0755 "$f"/kind/bin/* "$d/kind/bin/"
  install -m 0644 "$f"/etc/crictl.yaml "$d/etc/"
  install -m 0644 "$f"/etc/containerd/* "$d/etc/containerd/"
  install -m 0644 "$f"/etc/default/* "$d/etc/default/"
  install -m 0644 "$f"/etc/sysctl.d/* "$d/etc/sysctl.d/"
  find "$f/etc/systemd/system" -maxdepth 1 -type f -exec install -m 0644 {} "$d/etc/systemd/system/" \;
  install -m 0644 "$f"/etc/systemd/system/kubelet.service.d/* "$d/etc/systemd/system/kubelet.service.d/"
  for b in containerd ctr containerd-shim-runc-v2 crictl; do install -m 0755 "$BIN/$b" "$d/usr/local/bin/"; done
  # kind's CNI plugins live in /opt/cni/bin; Debian's containernetworking-plugins puts them in /usr/lib/cni
  mkdir -p "$d/opt/cni/bin"
  for p in host-local loopback ptp portmap; do ln -sf "/usr/lib/cni/$p" "$d/opt/cni/bin/$p"; done
  # the base OCI spec containerd gives every container, as kind's base image makes it
  "$BIN/ctr" oci spec |
    jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' |
    jq 'del(.process.rlimits)' >"$d/etc/containerd/cri-base.json"
  find "$d/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$d"/lib/systemd/system/multi-user.target.wants/* "$d"/etc/systemd/system/*.wants/* \
    "$d"/lib/systemd/system/local-fs.target.wants/* "$d"/lib/systemd/system/sockets.target.wants/*udev* \
    "$d"/lib/systemd/system/sockets.target.wants/*initctl* "$d"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$d/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$d/sbin/init"
  systemctl --root="$d" enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1 &&
    systemctl --root="$d" mask systemd-binfmt.service >/dev/null 2>&1 ||
    die "systemctl --root could not enable kind's units in the node root filesystem" "is systemd installed here?"
  mkdir -p "$d/etc/kubernetes/manifests"
}
apps_fs() { :; }

NODE_FS=$(rootfs node "$NODE_PKGS" node_fs)
APPS_FS=$(rootfs apps "$APPS_PKGS" apps_fs)

# ---- 2. images ----------------------------------------------------------------------------------------
# kind build node-image always `docker pull`s its base image first: a name on a closed loopback port keeps
# that attempt on this machine (it fails at once, and the local image is used).
BASE_IMAGE="localhost:1/kafkalab/kind-base:$KIND_VERSION-$(basename "$NODE_FS" .tar)"
APPS_IMAGE="kafkalab.local/debian-apps:$(basename "$APPS_FS" .tar)"
if ! have_image "$BASE_IMAGE"; then
  say "importing kind's base image $BASE_IMAGE"
  # docker import cannot set STOPSIGNAL: a one-line build on top of the imported tree does
  docker import "$NODE_FS" "$BASE_IMAGE-rootfs" >/dev/null
  printf 'FROM %s\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\nLABEL %s\n' \
    "$BASE_IMAGE-rootfs" "$LABEL" | docker_build -t "$BASE_IMAGE" -
  docker rmi "$BASE_IMAGE-rootfs" >/dev/null
fi
if ! have_image "$APPS_IMAGE"; then
  say "importing $APPS_IMAGE"
  docker import --change "LABEL $LABEL" "$APPS_FS" "$APPS_IMAGE" >/dev/null
fi

# image name -> how to make it: "static BINARY [ENTRYPOINT]" (just that binary, as upstream's distroless
# images) or "apps BINARY" (the binary on the apps root filesystem, for images that need a shell or iptables)
images_wanted() {
  local kubeadm_images
  kubeadm_images=$("$BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
  for img in $kubeadm_images; do
    case "$img" in
      */kube-proxy:*) echo "$img apps kube-proxy" ;;
      */kube-*:*) b=${img##*/}; echo "$img static ${b%%:*}" ;;
      */etcd:*) echo "$img static etcd" ;;
      */coredns:*) echo "$img static coredns /coredns" ;;
      */pause:*) ;; # kind uses containerd's sandbox_image instead, below
    esac
  done
  sed -n 's/.*sandbox_image = "\(.*\)"/\1 static pause \/pause/p' "$KIND_SRC/images/base/files/etc/containerd/config.toml"
  local cni storage helper
  cni=$(sed -n 's/^const kindnetdImage = "\(.*\)"/\1/p' "$KIND_SRC/pkg/build/nodeimage/const_cni.go")
  storage=$(sed -n 's/^const storageProvisionerImage = "\(.*\)"/\1/p' "$KIND_SRC/pkg/build/nodeimage/const_storage.go")
  helper=$(sed -n 's/^const storageHelperImage = "\(.*\)"/\1/p' "$KIND_SRC/pkg/build/nodeimage/const_storage.go")
  echo "$storage static local-path-provisioner"
  echo "$helper apps -"
  # kindnetd cannot be had from the registries (DESIGN §3): kind still insists on finding the image, so it
  # gets a placeholder that only says so; the cluster runs with disableDefaultCNI and a static CNI instead.
  echo "$cni placeholder"
}

make_image() { # name kind binary [entrypoint]
  local name=$1 kind=$2 bin=${3:-} entry=${4:-} ctx="$work/ctx-$RANDOM"
  mkdir -p "$ctx/root/usr/local/bin" "$ctx/root/tmp" "$ctx/root/etc"
  chmod 1777 "$ctx/root/tmp"
  case $kind in
    static)
      install -m 0755 "$BIN/$bin" "$ctx/root/usr/local/bin/$bin"
      [ -n "$entry" ] && ln -s "usr/local/bin/$bin" "$ctx/root/${entry#/}"
      printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$ctx/root/etc/passwd"
      niced tar --numeric-owner --owner=0 --group=0 -C "$ctx/root" -c . |
        docker import --change "ENV PATH=/usr/local/bin:/usr/bin:/bin" --change "LABEL $LABEL" \
          ${entry:+--change "ENTRYPOINT [\"$entry\"]"} - "$name" >/dev/null ;;
    apps)
      [ "$bin" != - ] && install -m 0755 "$BIN/$bin" "$ctx/root/usr/local/bin/$bin"
      printf 'FROM %s\nCOPY root/usr/local/bin/ /usr/local/bin/\nLABEL %s\n' "$APPS_IMAGE" "$LABEL" >"$ctx/Dockerfile"
      docker_build -t "$name" "$ctx" ;;
    placeholder)
      printf '#!/bin/sh\necho "%s: a kafkalab placeholder; kindnetd is not built offline (DESIGN §3), use disableDefaultCNI" >&2\nexit 1\n' "$name" >"$ctx/root/usr/local/bin/kindnetd"
      chmod 0755 "$ctx/root/usr/local/bin/kindnetd"
      printf 'FROM %s\nCOPY root/usr/local/bin/ /usr/local/bin/\nLABEL %s\n' "$APPS_IMAGE" "$LABEL" >"$ctx/Dockerfile"
      docker_build -t "$name" "$ctx" ;;
  esac
  rm -rf "$ctx"
}

mapfile -t WANTED < <(images_wanted)
[ ${#WANTED[@]} -ge 9 ] || die "could not list the images kubeadm and kind want (got ${#WANTED[@]})" "check $BIN/kubeadm"
for line in "${WANTED[@]}"; do
  read -r name kind bin entry <<<"$line"
  have_image "$name" && continue
  say "building image $name ($kind${bin:+ $bin})"
  make_image "$name" "$kind" "${bin:-}" "${entry:-}"
done

# ---- 3. the node image ----------------------------------------------------------------------------------
if ! have_image "$NODE_IMAGE"; then
  say "building the node image $NODE_IMAGE (kind build node-image; ~1-2 min)"
  srv="$work/kubernetes"
  mkdir -p "$srv/server/bin"
  echo "$K8S_VERSION" >"$srv/version"
  for b in kubeadm kubelet kubectl; do cp "$BIN/$b" "$srv/server/bin/"; done
  # kind reads the images an archive holds from its `repositories` entry and counts those as built;
  # everything else it would fetch from the network. The four archives kind opens carry all of them, with
  # fully qualified names (docker save would shorten docker.io/x/y to x/y).
  names=("${WANTED[@]%% *}")
  for a in kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
    mine=$(printf '%s\n' "${names[@]}" | grep "/$a:")
    [ "$a" = kube-proxy ] && mine=$(printf '%s\n' "${names[@]}" | grep -vE '/kube-(apiserver|controller-manager|scheduler):')
    # shellcheck disable=SC2086
    docker save $mine >"$work/$a.raw.tar"
    "$PY" - "$work/$a.raw.tar" "$srv/server/bin/$a.tar" $mine <<'PY'
import io, json, sys, tarfile
src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(src) as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
manifest = json.loads(next(d for m, d in members if m.name == "manifest.json"))
full = {}
for n in names:
    repo, tag = n.rsplit(":", 1)
    short = repo[len("docker.io/"):] if repo.startswith("docker.io/") else repo
    short = short[len("library/"):] if short.startswith("library/") else short
    full[f"{short}:{tag}"] = n
repos = {}
for entry in manifest:
    entry["RepoTags"] = [full.get(t, t) for t in entry.get("RepoTags") or []]
    layer = entry["Layers"][-1].split("/")[0]
    for t in entry["RepoTags"]:
        repo, tag = t.rsplit(":", 1)
        repos.setdefault(repo, {})[tag] = layer
with tarfile.open(dst, "w") as out:
    for name, data in (("repositories", repos), ("manifest.json", manifest)):
        blob = json.dumps(data).encode()
        info = tarfile.TarInfo(name); info.size = len(blob); info.mode = 0o644
        out.addfile(info, io.BytesIO(blob))
    for m, data in members:
        if m.name not in ("repositories", "manifest.json"):
            out.addfile(m, io.BytesIO(data) if data is not None else None)
PY
    rm -f "$work/$a.raw.tar"
  done
  niced tar -C "$work" -czf "$work/kubernetes-server-linux-amd64.tar.gz" kubernetes
  if ! niced "$BIN/kind" build node-image --type file --base-image "$BASE_IMAGE" --image "$NODE_IMAGE" \
    "$work/kubernetes-server-linux-amd64.tar.gz" >"$work/node-image.log" 2>&1; then
    tail -n 25 "$work/node-image.log" >&2
    die "kind build node-image failed (log above)" "an image kind looked for may be missing from the archives"
  fi
  docker image inspect "$NODE_IMAGE" >/dev/null
fi
say "images ready: node $NODE_IMAGE"
