"""Fixtures for tests that run against the hermetic cluster (tests/hermetic/up.sh).

The cluster is started once, outside pytest (`make hermetic-up`), because it outlives a test session and
is shared with the notebook suite. A missing cluster is a failure, not a skip: a skipped hermetic suite
in CI would look green while testing nothing.
"""

import os
from pathlib import Path

import pytest
from kubernetes import client, config

__all__ = ["CONTEXT", "hermetic_dir", "kubeconfig", "kube_api"]

CONTEXT = "kafkalab-hermetic"
UP_HINT = "run `make hermetic-up` (or `bash tests/hermetic/up.sh`) first"


@pytest.fixture(scope="session")
def hermetic_dir() -> Path:
    """The run directory of the hermetic cluster ($KAFKALAB_HERMETIC_DIR, default /tmp/kafkalab-hermetic)."""
    return Path(os.environ.get("KAFKALAB_HERMETIC_DIR", "/tmp/kafkalab-hermetic")).resolve()


@pytest.fixture(scope="session")
def kubeconfig(hermetic_dir: Path) -> Path:
    """Path of the hermetic cluster's kubeconfig; also exported as KUBECONFIG so library code
    (kafkalab.kube.api()) called from a test talks to the same cluster."""
    path = hermetic_dir / "kubeconfig"
    if not path.is_file():
        pytest.fail(f"hermetic cluster is not up: {path} does not exist — {UP_HINT}", pytrace=False)
    os.environ["KUBECONFIG"] = str(path)
    return path


@pytest.fixture(scope="session")
def kube_api(kubeconfig: Path) -> client.ApiClient:
    """An ApiClient for the hermetic cluster, checked to answer before any test uses it."""
    api = config.new_client_from_config(config_file=str(kubeconfig), context=CONTEXT)
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as e:  # any failure to connect means the same thing to the person reading it
        pytest.fail(
            f"hermetic cluster in {kubeconfig.parent} does not answer ({type(e).__name__}: {e}) — "
            f"run `make hermetic-down && make hermetic-up`",
            pytrace=False,
        )
    return api
