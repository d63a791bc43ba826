"""No secret in any notebook output: the scanner (tests/notebooks/scan_secrets.py) itself, the committed
notebooks' stored outputs, and a real run of the suite on the hermetic cluster checked against the live
Secrets it created (KafkaUser passwords and JAAS lines, CA keys and keystore passwords).

The real run is tests/hermetic/test_rerun.py's first pass of the suite (namespaces of its own, stopped before
99-teardown so the Secrets still exist): it calls assert_no_live_secret below. Executed notebooks another run
left in out/ (e.g. `make hermetic-run` → out/hermetic-run) are scanned too, for the patterns and the live
values.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from kafkalab import clients
from kafkalab.suite import notebooks_dir

ROOT = Path(__file__).resolve().parents[2]


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


# ---- a real run: tests/hermetic/test_rerun.py runs the suite once (kafkalab run) and calls this ---------


def assert_no_live_secret(executed_dir: Path, namespaces: list[str], ran: int) -> None:
    """No value of a live Secret in `namespaces` (KafkaUser passwords and JAAS lines, CA keys, keystore
    passwords) in the notebooks executed into `executed_dir`, nor in those other runs left in out/."""
    secrets = scanner.live_secrets(namespaces)
    passwords = [w for w in secrets.values() if w.endswith(" password")]
    assert passwords, (
        f"no KafkaUser password among the live secrets, nothing to look for: {sorted(secrets.values())}"
    )
    executed = scanner.notebooks_in(
        [executed_dir, *sorted(p for p in (ROOT / "out").glob("*") if p.is_dir() and p != executed_dir)]
    )
    findings = []
    for path in executed:
        findings += scanner.scan(path, secrets)[0]
    assert findings == [], "\n".join(map(str, findings))
    assert len([p for p in executed if p.parent == executed_dir]) == ran
