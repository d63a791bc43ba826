"""Which cluster `kafkalab run` uses, and the built-in hermetic cluster's start and stop.

The best the machine can give, in this order: the kube context the parameters name; kind with the real
Strimzi operator when Docker runs and kind is installed; else the hermetic cluster of the repository
(tests/hermetic: a real API server and real Kafka brokers, a stand-in for the operator; no Docker), built
and cached on first use, started for the run and stopped after it. `--tier` overrides the guess, and a
requested tier that cannot run here fails with what is missing.

The hermetic cluster's scripts are part of the repository, not of the installed package (they build
Kubernetes from Go modules and need the test extras): an installed kafkalab says so and names the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kafkalab.errors import KafkalabError

__all__ = ["TIERS", "Tier", "choose", "hermetic_dir", "hermetic_missing", "start_hermetic", "stop_hermetic"]

TIERS = ("kind", "hermetic", "context")
ROOT = Path(__file__).resolve().parent.parent  # the checkout, when kafkalab is installed editable from one
HERMETIC_SCRIPTS = ROOT / "tests" / "hermetic"
REPOSITORY = "the kafkalab repository checkout (`git clone` it, then `make run` there)"
KIND_HINT = "`kafkalab doctor` says what kind needs and how to get it"


@dataclass
class Tier:
    """The cluster a run uses (`name` one of TIERS) and why, in words for the run's first line."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} — {self.reason}"


def _docker() -> str | None:
    """None when the Docker daemon answers, else why not."""
    if shutil.which("docker") is None:
        return "Docker is not installed"
    try:
        p = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"Docker does not answer ({e})"
    if p.returncode != 0:
        last = (p.stdout + p.stderr).strip().splitlines()
        return f"Docker is not running ({last[-1] if last else f'docker info exit code {p.returncode}'})"
    return None


def kind_missing() -> list[str]:
    """What the kind tier lacks here (empty: it can run)."""
    missing = []
    docker = _docker()
    if docker:
        missing.append(docker)
    if shutil.which("kind") is None:
        missing.append("kind is not installed")
    return missing


def _cache() -> Path:
    return Path(os.environ.get("KAFKALAB_CACHE") or Path.home() / ".cache" / "kafkalab")


def hermetic_missing() -> list[str]:
    """What the hermetic tier lacks here (empty: it can run). Go and Maven only matter on a cold cache."""
    if not (HERMETIC_SCRIPTS / "up.sh").is_file():
        return [
            f"the hermetic cluster's scripts (tests/hermetic/), which an installed package does not ship: "
            f"use {REPOSITORY}"
        ]
    missing = []
    if importlib.util.find_spec("kopf") is None:
        missing.append("the stand-in's Python packages (`pip install -e '.[test]'` in the checkout)")
    if shutil.which("java") is None:
        missing.append("java (a JRE 17+: the brokers are real Kafka on the JVM)")
    if shutil.which("go") is None and not any(_cache().glob("control-plane/*/bin/kwokctl")):
        missing.append("go 1.26+ (to build the control plane once into the cache)")
    if shutil.which("mvn") is None and not any(_cache().glob("kafka-*/")):
        missing.append("mvn (to fetch Kafka's jars once into the cache)")
    return missing


def choose(requested: str | None, parameters: dict) -> Tier:
    """The tier to run on: `requested` (one of TIERS) if it can run, else the best this machine offers.

    Raises KafkalabError naming what is missing when the requested tier, or every tier, cannot run.
    """
    context = parameters.get("kube_context")
    if requested == "context" or (requested is None and context):
        where = f"kube context {context}" if context else "the current kube context"
        return Tier(
            "context", f"{where}{'' if requested else ' (named by kube_context)'}; no cluster is created"
        )
    if requested == "kind":
        missing = kind_missing()
        if missing:
            raise KafkalabError(
                f"--tier kind cannot run here: {'; '.join(missing)}",
                obj="tier kind",
                fix=f"{KIND_HINT}; or --tier hermetic (no Docker needed)",
            )
        return Tier("kind", "requested: a kind cluster with the real Strimzi operator")
    if requested == "hermetic":
        missing = hermetic_missing()
        if missing:
            raise KafkalabError(
                f"--tier hermetic cannot run here: {'; '.join(missing)}",
                obj="tier hermetic",
                fix="install what is missing; or --tier kind (Docker and kind)",
            )
        return Tier("hermetic", "requested: the built-in cluster (real API server and brokers, no Docker)")
    if requested is not None:
        raise KafkalabError(f"unknown tier {requested!r}", obj="--tier", fix=f"use one of {', '.join(TIERS)}")
    no_kind = kind_missing()
    if not no_kind:
        return Tier(
            "kind", "Docker is running and kind is installed: a kind cluster with the real Strimzi operator"
        )
    no_hermetic = hermetic_missing()
    if no_hermetic:
        raise KafkalabError(
            f"no cluster to run on: kind cannot run ({'; '.join(no_kind)}) and neither can the built-in "
            f"hermetic cluster ({'; '.join(no_hermetic)})",
            obj="kafkalab run",
            fix=f"{KIND_HINT}; or -p kube_context=<context> to use a cluster you have",
        )
    return Tier(
        "hermetic",
        f"{'; '.join(no_kind)}: the built-in cluster instead (real API server and Kafka brokers, a stand-in "
        f"for the operator; no Docker). For real Strimzi on kind, {KIND_HINT}",
    )


def hermetic_dir() -> Path:
    return Path(os.environ.get("KAFKALAB_HERMETIC_DIR", "/tmp/kafkalab-hermetic"))


def start_hermetic() -> bool:
    """Start the hermetic cluster (tests/hermetic/up.sh; builds and caches on first use); its progress goes to
    stderr. Returns False when it was already up (then the caller must leave it running)."""
    was_up = (hermetic_dir() / "up.done").is_file()
    env = {**os.environ, "PY": sys.executable}
    p = subprocess.run(["bash", str(HERMETIC_SCRIPTS / "up.sh")], stdout=subprocess.DEVNULL, env=env)
    if p.returncode != 0:
        raise KafkalabError(
            f"the built-in hermetic cluster did not start (up.sh exit code {p.returncode}, reason above)",
            obj=str(hermetic_dir()),
            fix="fix the cause up.sh names, then rerun; or --tier kind / -p kube_context=<context>",
        )
    return not was_up


def stop_hermetic() -> None:
    subprocess.run(["bash", str(HERMETIC_SCRIPTS / "down.sh")], stdout=subprocess.DEVNULL, check=False)
