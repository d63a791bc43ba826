# Versions of everything the kind-offline tier builds, and where it caches them (sourced by its scripts).
# The cache folder is named by the versions: change one and the next run builds afresh beside the old.
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KIND_VERSION=${KIND_VERSION:-v0.33.0}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.3.4}
CRICTL_VERSION=${CRICTL_VERSION:-v1.36.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.2}
LPP_VERSION=${LPP_VERSION:-v0.0.30}
PAUSE_VERSION=${PAUSE_VERSION:-3.10.1}
CACHE=${KAFKALAB_CACHE:-$HOME/.cache/kafkalab}
KO_CACHE="$CACHE/kind-offline/k8s-$K8S_VERSION-kind-$KIND_VERSION-containerd-$CONTAINERD_VERSION"
BIN="$KO_CACHE/bin"
