"""Which cluster `kafkalab run` picks, faked only at the subprocess edge (which tools exist, what `docker
info` answers) and the cache directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kafkalab import tiers
from kafkalab.errors import KafkalabError


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine with the tools in `state["tools"]`; `docker info` exits `state["docker_rc"]`."""
    state = {"tools": {"docker", "kind", "java", "go", "mvn"}, "docker_rc": 0, "calls": []}
    monkeypatch.setattr(tiers.shutil, "which", lambda t: f"/usr/bin/{t}" if t in state["tools"] else None)

    def run(cmd, **kw):
        state["calls"].append(cmd)
        assert cmd[:2] == ["docker", "info"], cmd
        if state["docker_rc"]:
            return subprocess.CompletedProcess(
                cmd, 1, "", "Cannot connect to the Docker daemon. Is it running?"
            )
        return subprocess.CompletedProcess(cmd, 0, "28.2.2\n", "")

    monkeypatch.setattr(tiers.subprocess, "run", run)
    monkeypatch.setenv("KAFKALAB_CACHE", str(tmp_path / "cache"))
    return state


def test_a_named_context_wins(machine):
    tier = tiers.choose(None, {"kube_context": "prod-like"})
    assert tier.name == "context" and "kube context prod-like (named by kube_context)" in tier.reason
    assert machine["calls"] == []  # no need to ask Docker


def test_kind_when_docker_runs_and_kind_is_installed(machine):
    tier = tiers.choose(None, {"kube_context": None})
    assert tier.name == "kind" and "Docker is running and kind is installed" in tier.reason


@pytest.mark.parametrize(
    "tools, docker_rc, why",
    [
        ({"java", "go", "mvn"}, 0, "Docker is not installed; kind is not installed"),
        ({"docker", "kind", "java", "go", "mvn"}, 1, "Docker is not running (Cannot connect to the Docker"),
        ({"docker", "java", "go", "mvn"}, 0, "kind is not installed"),
    ],
)  # fmt: skip
def test_the_built_in_cluster_otherwise_saying_why_and_how_to_get_kind(machine, tools, docker_rc, why):
    machine["tools"], machine["docker_rc"] = tools, docker_rc
    tier = tiers.choose(None, {})
    assert tier.name == "hermetic"
    assert tier.reason.startswith(why) and "`kafkalab doctor`" in tier.reason
    assert str(tier).startswith("hermetic — ")


def test_an_explicit_tier_overrides_the_guess(machine):
    assert tiers.choose("hermetic", {}).name == "hermetic"
    assert tiers.choose("context", {}).reason == "the current kube context; no cluster is created"
    assert tiers.choose("hermetic", {"kube_context": "x"}).name == "hermetic"
    machine["tools"] = {"java", "go", "mvn"}
    assert tiers.choose("context", {"kube_context": "x"}).name == "context"


def test_a_requested_kind_that_cannot_run_names_what_is_missing(machine):
    machine["docker_rc"] = 1
    machine["tools"] -= {"kind"}
    with pytest.raises(KafkalabError) as e:
        tiers.choose("kind", {})
    text = str(e.value)
    assert "--tier kind cannot run here: Docker is not running" in text and "kind is not installed" in text
    assert "kafkalab doctor" in text and "--tier hermetic" in text


def test_a_requested_hermetic_that_cannot_run_names_what_is_missing(machine):
    machine["tools"] = {"docker", "kind"}
    with pytest.raises(KafkalabError) as e:
        tiers.choose("hermetic", {})
    text = str(e.value)
    assert "--tier hermetic cannot run here: java" in text and "go 1.26+" in text and "mvn" in text


def test_a_warm_cache_needs_no_go_or_maven(machine, tmp_path):
    machine["tools"] = {"java"}
    (tmp_path / "cache" / "control-plane" / "k8s-x" / "bin").mkdir(parents=True)
    (tmp_path / "cache" / "control-plane" / "k8s-x" / "bin" / "kwokctl").touch()
    (tmp_path / "cache" / "kafka-4.3.1").mkdir()
    assert tiers.hermetic_missing() == []
    assert tiers.choose(None, {}).name == "hermetic"


def test_nothing_can_run_says_both_and_how(machine):
    machine["tools"] = set()
    with pytest.raises(KafkalabError) as e:
        tiers.choose(None, {})
    text = str(e.value)
    assert "no cluster to run on: kind cannot run (Docker is not installed; kind is not installed)" in text
    assert "neither can the built-in hermetic cluster (java" in text
    assert "kube_context" in text


def test_an_installed_package_says_the_hermetic_tier_needs_the_checkout(machine, monkeypatch, tmp_path):
    monkeypatch.setattr(tiers, "HERMETIC_SCRIPTS", tmp_path / "site-packages" / "tests" / "hermetic")
    with pytest.raises(KafkalabError, match="not ship: use the kafkalab repository checkout"):
        tiers.choose("hermetic", {})


def test_the_hermetic_scripts_are_where_tiers_looks():
    assert (tiers.HERMETIC_SCRIPTS / "up.sh").is_file() and (tiers.HERMETIC_SCRIPTS / "down.sh").is_file()
    assert tiers.ROOT == Path(__file__).resolve().parents[2]
