"""The ownership rules at the API edge, without a cluster: what carries kafkalab's mark, whose an object is,
and which applies are refused (someone else's object, another cluster's node pool)."""

from __future__ import annotations

from kafkalab import kube
from kafkalab.errors import ManifestRejected


def pool(cluster: str, labels: dict | None = None, managers=("kafkalab",)) -> dict:
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaNodePool",
        "metadata": {
            "name": "dual-role",
            "namespace": "kafka",
            "labels": {"strimzi.io/cluster": cluster, **(labels or {})},
            "managedFields": [{"manager": m} for m in managers],
        },
        "spec": {"replicas": 1},
    }


OURS = {kube.MANAGED_BY_LABEL: kube.MANAGED_BY}


def test_mark_adds_label_and_who_made_it_and_keeps_an_existing_annotation():
    body = pool("a")
    marked = kube.mark(body)
    assert kube.is_marked(marked) and not kube.is_marked(body)  # a copy: the caller's dict is unchanged
    assert marked["metadata"]["labels"]["strimzi.io/cluster"] == "a"
    assert "with kafkalab" in marked["metadata"]["annotations"][kube.CREATED_BY_ANNOTATION]
    existing = {"metadata": {"annotations": {kube.CREATED_BY_ANNOTATION: "ann@laptop with kafkalab"}}}
    again = kube.mark(body, existing)
    assert again["metadata"]["annotations"][kube.CREATED_BY_ANNOTATION] == "ann@laptop with kafkalab"


def test_owner_names_the_mark_a_managed_by_label_or_the_field_managers():
    assert kube.owner(kube.mark(pool("a"))).startswith("kafkalab (")
    assert kube.owner(pool("a", {kube.MANAGED_BY_LABEL: "Helm"})) == "app.kubernetes.io/managed-by=Helm"
    assert kube.owner(pool("a", managers=("kubectl-client-side-apply", "kafkalab"))) == (
        "field manager kubectl-client-side-apply"
    )
    assert "no mark of kafkalab" in kube.owner(pool("a", managers=()))


def test_a_new_object_or_our_own_may_be_applied():
    assert kube.refusal(pool("a"), None) is None
    assert kube.refusal(pool("a"), pool("a", OURS)) is None


def test_someone_elses_object_is_refused_naming_it_its_owner_and_the_fix():
    refused = kube.refusal(pool("a"), pool("a", managers=("kubectl",)))
    assert isinstance(refused, ManifestRejected)
    assert refused.obj == "KafkaNodePool kafka/dual-role"
    assert "not made by kafkalab (owner: field manager kubectl)" in refused.summary
    assert "nothing was applied" in refused.summary
    assert "another name" in refused.fix


def test_another_clusters_node_pool_is_refused_naming_pool_owner_cluster_and_fix():
    refused = kube.refusal(pool("second"), pool("first", OURS))
    assert refused.obj == "KafkaNodePool kafka/dual-role"
    assert "belongs to first (label strimzi.io/cluster=first)" in refused.summary
    assert "take it away from first" in refused.summary
    assert "second-dual-role" in refused.fix and "own namespace" in refused.fix


def test_cleanup_reads_as_what_went_and_what_stayed_and_why():
    c = kube.Cleanup(["KafkaTopic kafka/a"]) + kube.Cleanup(kept=["Namespace kafka: not created by kafkalab"])
    assert str(c) == "deleted 1: KafkaTopic kafka/a\nleft: Namespace kafka: not created by kafkalab"
    assert str(kube.Cleanup()) == "deleted 0"
