"""Where Strimzi's install YAML comes from: the release URL, downloaded once into the cache, verified, then
reused offline; $KAFKALAB_STRIMZI_SOURCE or a local copy for air-gapped rooms.

Never a network call: the "release" is served by an HTTP server on 127.0.0.1, from a file built here out of
Strimzi 1.2.0's real install files (../shared; skipped where they are absent).
"""

from __future__ import annotations

import functools
import http.server
import socket
import threading
from pathlib import Path

import pytest

from kafkalab import strimzi
from kafkalab.errors import KafkalabError, NotFound

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT.parent / "shared" / "strimzi" / "1.2.0" / "install" / "cluster-operator"
ASSET = "strimzi-cluster-operator-1.2.0.yaml"
needs_install = pytest.mark.skipif(
    not INSTALL.is_dir(), reason=f"Strimzi 1.2.0 install files not at {INSTALL}"
)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KAFKALAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("KAFKALAB_STRIMZI_SOURCE", raising=False)
    return tmp_path / "cache" / "strimzi" / "1.2.0"


@pytest.fixture
def release(tmp_path):
    """serve(text) → the URL of `text` as the release asset on a local HTTP server (stopped afterwards)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def serve(text: str) -> str:
        (root / ASSET).write_text(text)
        return f"http://127.0.0.1:{server.server_port}/{ASSET}"

    serve.stop = server.shutdown
    yield serve
    server.shutdown()
    server.server_close()


def bundle() -> str:
    return "\n---\n".join(f.read_text() for f in sorted(INSTALL.glob("*.yaml")))


def test_the_cache_is_under_kafkalab_cache(cache, monkeypatch, tmp_path):
    assert strimzi.cache_dir() == cache
    monkeypatch.delenv("KAFKALAB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert strimzi.cache_dir() == tmp_path / "home" / ".cache" / "kafkalab" / "strimzi" / "1.2.0"


def test_default_source_is_the_release_unless_the_environment_names_a_copy(monkeypatch):
    assert strimzi.default_source() == strimzi.RELEASE_URL
    assert strimzi.RELEASE_URL.endswith(f"/releases/download/1.2.0/{ASSET}")
    monkeypatch.setenv("KAFKALAB_STRIMZI_SOURCE", "/srv/strimzi")
    assert strimzi.default_source() == "/srv/strimzi"


@needs_install
def test_first_use_downloads_verifies_and_caches_then_works_offline(release, cache):
    url = release(bundle())
    path = strimzi.fetch_release(url)
    assert path == cache / ASSET and path.read_text() == bundle()
    assert [p.name for p in cache.iterdir()] == [ASSET]  # no partial file left
    expected = strimzi.operator_manifests("ops", ["kafka"], INSTALL)
    release.stop()  # offline from here on: the cache must do
    assert strimzi.fetch_release(url) == path
    assert strimzi.operator_manifests("ops", ["kafka"], url) == expected


@needs_install
@pytest.mark.parametrize(
    "change, message",
    [
        (("operator:1.2.0", "operator:1.1.0"), "installs Strimzi 1.1.0"),
        (("- name: v1\n    served: true", "- name: v1\n    served: false"), "does not serve kafka.strimzi"),
        (("name: kafkatopics.kafka", "name: kafkatopicz.kafka"), r"kafkatopics\S* \(missing\)"),
    ],
    ids=["another-version", "v1-not-served", "crd-missing"],
)  # fmt: skip
def test_a_download_that_is_not_strimzi_1_2_0_is_refused_and_not_cached(release, cache, change, message):
    url = release(bundle().replace(*change))
    with pytest.raises(KafkalabError, match=message) as e:
        strimzi.fetch_release(url)
    assert url in str(e.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_failed_download_names_the_url_and_the_offline_fix(cache):
    with socket.socket() as s:  # a port nobody listens on: connection refused, no traffic off this machine
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{ASSET}"
    with pytest.raises(NotFound) as e:
        strimzi.fetch_release(url)
    text = str(e.value)
    assert f"cannot download the Strimzi 1.2.0 install YAML from {url}" in text
    assert "KAFKALAB_STRIMZI_SOURCE" in text and "install/cluster-operator" in text
    assert str(cache / ASSET) in text  # where to put a copy by hand
    assert not cache.exists()


def test_a_missing_asset_names_the_url(release):
    url = release("kind: ConfigMap\n") + ".missing"
    pattern = r"cannot download .* from http://127\.0\.0\.1:\d+/.*missing: (File not found|Not Found)"
    with pytest.raises(NotFound, match=pattern):
        strimzi.fetch_release(url)


def test_a_page_that_is_not_yaml_is_refused(release, cache):
    url = release("<html>\n<body>rate limited: {{ oops</body>\n</html>\n")
    with pytest.raises(KafkalabError, match="is not YAML|not a Kubernetes object"):
        strimzi.fetch_release(url)
    assert not cache.exists() or list(cache.iterdir()) == []


@needs_install
def test_a_local_copy_is_used_as_is_without_touching_the_cache(tmp_path, cache):
    file = tmp_path / ASSET
    file.write_text(bundle())
    assert strimzi.operator_manifests("ops", ["kafka"], file) == strimzi.operator_manifests(
        "ops", ["kafka"], INSTALL
    )
    assert not cache.exists()
