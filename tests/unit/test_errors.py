"""The error family: structured fields and a __str__ that names the object and the fix."""

from __future__ import annotations

import pytest

from kafkalab import errors
from kafkalab.errors import (
    ClusterUnreachable,
    KafkalabError,
    ManifestRejected,
    MissingTool,
    NotFound,
    ResourceFailed,
    WaitTimeout,
)
from kafkalab.kube import Diagnosis


def test_str_has_message_object_and_fix_lines():
    e = KafkalabError("it broke", obj="Kafka kafka/my-cluster", fix="do this")
    assert str(e) == "it broke\n  object: Kafka kafka/my-cluster\n  fix: do this"
    assert (e.summary, e.obj, e.fix) == ("it broke", "Kafka kafka/my-cluster", "do this")


def test_str_without_object_or_fix_is_just_the_message():
    assert str(NotFound("gone")) == "gone"


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_is_a_kafkalab_error_with_a_one_line_docstring(name):
    cls = getattr(errors, name)
    assert issubclass(cls, KafkalabError)
    assert cls.__doc__ and "\n" not in cls.__doc__.strip()


def test_structured_fields():
    assert ClusterUnreachable("x", context="kind-kafkalab").context == "kind-kafkalab"
    rejected = ManifestRejected("x", status=422, server_message="spec.kafka: Required value", obj="Kafka a/b")
    assert (rejected.status, rejected.server_message, rejected.obj) == (
        422,
        "spec.kafka: Required value",
        "Kafka a/b",
    )
    failed = ResourceFailed("x", reason="InvalidResourceException", message="No KafkaNodePools found")
    assert (failed.reason, failed.message) == ("InvalidResourceException", "No KafkaNodePools found")


def test_missing_tool_names_the_tool_and_how_to_install_it():
    e = MissingTool("kind", "go install sigs.k8s.io/kind@v0.31.0")
    assert e.tool == "kind" and e.install == "go install sigs.k8s.io/kind@v0.31.0"
    assert "`kind` is not installed" in str(e) and "fix: go install sigs.k8s.io/kind@v0.31.0" in str(e)


def test_wait_timeout_shows_its_diagnosis():
    d = Diagnosis(
        obj="Kafka kafka/my-cluster",
        conditions=[{"type": "NotReady", "status": "True", "reason": "Creating", "message": "Creating"}],
        events=["2026-01-01T00:00:00Z Warning FailedScheduling Pod/my-cluster-dual-role-0: 0/1 nodes"],
        logs={"my-cluster-dual-role-0/kafka": "line one\nline two\n"},
        notes=["something could not be read"],
    )
    e = WaitTimeout("Kafka kafka/my-cluster is not ready after 5s", obj="Kafka kafka/my-cluster", diagnosis=d)
    text = str(e)
    assert e.diagnosis is d
    assert "NotReady=True reason=Creating Creating" in text
    assert "FailedScheduling Pod/my-cluster-dual-role-0: 0/1 nodes" in text
    assert "my-cluster-dual-role-0/kafka:" in text and "line two" in text
    assert "note: something could not be read" in text
