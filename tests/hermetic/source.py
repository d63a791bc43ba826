"""The Strimzi 1.2.0 install source the hermetic tests use, always a local path: $KAFKALAB_STRIMZI_SOURCE
(up.sh's env file sets it), else this machine's copy beside the repository (../shared/strimzi/1.2.0, where
there is one), else the release asset, downloaded once into the cache (kafkalab.strimzi.fetch_release)."""

from __future__ import annotations

import os
from pathlib import Path

from kafkalab import strimzi

ROOT = Path(__file__).resolve().parents[2]
LOCAL_COPY = ROOT.parent / "shared" / "strimzi" / strimzi.STRIMZI_VERSION / "install" / "cluster-operator"


def strimzi_source() -> Path:
    given = os.environ.get(strimzi.SOURCE_ENV)
    if given and "://" in given:
        return strimzi.fetch_release(given)
    if given:
        return Path(given)
    return LOCAL_COPY if LOCAL_COPY.is_dir() else strimzi.fetch_release()


def install_files(source: Path) -> list[Path]:
    """The YAML files of a source: a directory's, or the one file."""
    return sorted(source.glob("*.yaml")) if source.is_dir() else [source]
