"""No secret in any notebook output: the scanner (tests/notebooks/scan_secrets.py) itself, the committed
notebooks' stored outputs, and a real run of the suite on the hermetic cluster checked against the live
Secrets it created (KafkaUser passwords and JAAS lines, CA keys and keystore passwords).

The suite run uses namespaces of its own, stops before 99-teardown (so the Secrets still exist when the
outputs are checked) and deletes its namespaces afterwards. Executed notebooks another run left in out/
(e.g. `make hermetic-run` → out/hermetic-run) are scanned too, for the patterns and the live values.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from kafkalab import clients, kube
from kafkalab.suite import find_notebooks, notebooks_dir, run_suite
from tests.hermetic.source import strimzi_source

ROOT = Path(__file__).resolve().parents[2]
SOURCE = str(strimzi_source())


def _scanner():
    spec = importlib.util.spec_from_file_location(
        "scan_secrets", ROOT / "tests" / "notebooks" / "scan_secrets.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


scanner = _scanner()


def notebook(path: Path, *outputs: dict, source: str = "print(conn)") -> Path:
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": source,
        "outputs": list(outputs),
        "execution_count": 1,
    }
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


# ---- the scanner finds what it must, and only that ---------------------------------------------------


@pytest.mark.parametrize(
    "output, what",
    [
        (stream("-----BEGIN PRIVATE KEY-----\nMIIE...\n"), "PEM private key"),
        (stream("-----BEGIN RSA PRIVATE KEY-----"), "PEM private key"),
        (
            stream('scram.ScramLoginModule required username="u" password="hunter22";'),
            "JAAS password in clear",
        ),
        (
            {"output_type": "execute_result", "data": {"text/plain": "{'sasl_plain_password': 'hunter22'}"}},
            "client setting with a password in clear",
        ),
        (
            {"output_type": "error", "ename": "E", "evalue": "x", "traceback": ["sasl.password='hunter22'"]},
            "client setting with a password in clear",
        ),  # fmt: skip
    ],
)
def test_scanner_finds_secret_patterns(tmp_path, output, what):
    findings, outputs = scanner.scan(notebook(tmp_path / "leak.ipynb", output), {})
    assert outputs == 1 and [f.what for f in findings] == [what]
    assert "hunter22" not in str(findings[0])  # a finding is shown masked


def test_scanner_finds_live_values_in_outputs_and_sources(tmp_path):
    secret = "Zq8-live-password-value"
    leak = notebook(tmp_path / "a.ipynb", stream(f"the password is {secret}\n"))
    injected = notebook(tmp_path / "b.ipynb", source=f'password = "{secret}"')
    for path in (leak, injected):
        findings, _ = scanner.scan(path, {secret: "Secret ns/alice password"})
        assert [f.what for f in findings] == ["value of Secret ns/alice password"], findings


def test_scanner_accepts_what_kafkalab_prints(tmp_path):
    secret = "Zq8-live-password-value"
    conn = clients.Connection(sasl_plain_username="alice", sasl_plain_password=secret)
    ok = notebook(
        tmp_path / "ok.ipynb",
        stream(f"{conn}\npassword:         {clients.mask(secret)}\n"),
        stream('sasl.jaas.config: ScramLoginModule required username="alice" password="<masked>";\n'),
        stream("-----BEGIN CERTIFICATE-----\nMIIB...\n"),  # certificates are public
        source='print(\'password="[^"]*"\')',  # code may mention passwords; only live values count there
    )
    assert scanner.scan(ok, {secret: "Secret ns/alice password"}) == ([], 3)


def test_committed_notebooks_store_no_secret():
    paths = sorted(notebooks_dir().glob("*.ipynb"))
    assert paths
    findings = [f for p in paths for f in scanner.scan(p, {})[0]]
    assert findings == [], "\n".join(map(str, findings))


# ---- a real run --------------------------------------------------------------------------------------


@pytest.mark.hermetic
def test_executed_notebooks_show_no_live_secret(kubeconfig, tmp_path):
    kube.reset()
    params = yaml.safe_load((ROOT / "tests" / "notebooks" / "hermetic.yaml").read_text())
    suffix = uuid.uuid4().hex[:6]
    params.update(
        strimzi_source=SOURCE, namespace=f"kl-secrets-{suffix}", operator_namespace=f"kl-secrets-op-{suffix}"
    )
    wanted = [p.name for p in find_notebooks(notebooks_dir()) if not p.name.startswith("99")]
    out = tmp_path / "executed"
    try:
        summary = run_suite(out, params, notebooks=wanted)
        by_name = {r.notebook: r for r in summary.results}
        users = [n for n in wanted if n.startswith("06")]
        assert users and by_name[users[0]].status == "passed", (
            f"the notebook with users did not run:\n{summary}"
        )
        secrets = scanner.live_secrets([params["namespace"], params["operator_namespace"]])
        passwords = [w for w in secrets.values() if w.endswith(" password")]
        assert passwords, (
            f"no KafkaUser password among the live secrets, nothing to look for: {sorted(secrets.values())}"
        )
        executed = scanner.notebooks_in([out, *sorted(p for p in (ROOT / "out").glob("*") if p.is_dir())])
        findings = []
        for path in executed:
            findings += scanner.scan(path, secrets)[0]
        assert findings == [], "\n".join(map(str, findings))
        ran = [r for r in summary.results if r.status != "skipped"]
        assert len([p for p in executed if p.parent == out]) == len(ran)
    finally:
        for ns in (params["namespace"], params["operator_namespace"]):
            kube.delete_namespace(ns, timeout=180)
