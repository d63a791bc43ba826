"""Scan executed notebooks for secrets: no password or private key may appear in a notebook's output.

Two kinds of evidence:
- live values: every password, key and keystore in the cluster's Secrets of the given namespaces (KafkaUser
  credentials, cluster/clients CA keys and their passwords), as text and as the base64 a Secret stores;
- patterns that are secrets whatever their value: a PEM private key, a JAAS line or a kafka-python setting
  with a password in clear (kafkalab.clients.mask's "ab…(24 chars)" and "<masked>" are fine).

Outputs are scanned for both; cell sources only for live values (code may well contain the word password).

usage: scan_secrets.py [--namespace NS]... [--all-namespaces] [--context CTX] NOTEBOOK_OR_DIR...
Exit 0: clean; 1: secrets found (listed, masked); 2: nothing to scan.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Finding", "PATTERNS", "SECRET_KEYS", "live_secrets", "main", "notebooks_in", "scan"]

# Secret data keys whose values are secret (Strimzi's names); ca.crt/user.crt are public and not listed.
SECRET_KEYS = ("password", "sasl.jaas.config", "user.key", "user.p12", "user.password", "ca.key", "ca.p12",
               "ca.password")  # fmt: skip
MIN_LEN = 8  # shorter "secrets" would match ordinary text by chance

PATTERNS = {
    "PEM private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "JAAS password in clear": re.compile(r'password\s*=\s*"(?!<masked>")[^"\s]+"'),
    "client setting with a password in clear": re.compile(
        r"""(?:sasl_plain_password|ssl_password|sasl\.password)['"]?\s*[:=]\s*['"][^'"\s]+['"]"""
    ),
}


@dataclass
class Finding:
    notebook: str
    cell: int
    what: str
    sample: str  # masked: where it was seen, never the secret itself

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell}: {self.what} ({self.sample})"


def _mask(text: str) -> str:
    return f"{text[:2]}…({len(text)} chars)"


def live_secrets(namespaces: list[str] | None, context: str | None = None) -> dict[str, str]:
    """{secret text: "Secret ns/name key"} for every secret value in those namespaces (None: all)."""
    from kafkalab import kube

    found: dict[str, str] = {}
    for ns in namespaces or [None]:
        for s in kube.list_objects("v1", "Secret", ns, context=context):
            where = f"Secret {s['metadata']['namespace']}/{s['metadata']['name']}"
            for key, b64 in (s.get("data") or {}).items():
                if key not in SECRET_KEYS or not b64:
                    continue
                found.setdefault(b64, f"{where} {key} (base64)")
                raw = base64.b64decode(b64)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    continue  # a keystore: its base64 form is what could be printed
                found.setdefault(text.strip(), f"{where} {key}")
                for m in re.finditer(r'password="([^"]+)"', text):  # the password inside a JAAS line
                    found.setdefault(m.group(1), f"{where} {key} (password)")
    return {k: v for k, v in found.items() if len(k) >= MIN_LEN}


def _output_texts(output: dict) -> list[str]:
    texts = []
    if "text" in output:
        texts.append(_join(output["text"]))
    for value in (output.get("data") or {}).values():
        texts.append(
            value
            if isinstance(value, str)
            else _join(value)
            if isinstance(value, list)
            else json.dumps(value)
        )
    if output.get("output_type") == "error":
        texts += [output.get("evalue", ""), "\n".join(output.get("traceback") or [])]
    return texts


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def scan(path: Path, secrets: dict[str, str]) -> tuple[list[Finding], int]:
    """Findings in one notebook, and how many outputs were looked at."""
    nb = json.loads(path.read_text())
    findings: list[Finding] = []
    outputs = 0
    for i, cell in enumerate(nb.get("cells") or []):
        texts = []
        for out in cell.get("outputs") or []:
            outputs += 1
            texts += _output_texts(out)
        for text in texts:
            for what, rx in PATTERNS.items():
                for m in rx.finditer(text):
                    findings.append(Finding(path.name, i, what, _mask(m.group(0))))
        for text in [*texts, _join(cell.get("source", ""))]:
            for secret, where in secrets.items():
                if secret in text:
                    findings.append(Finding(path.name, i, f"value of {where}", _mask(secret)))
    return findings, outputs


def notebooks_in(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.glob("*.ipynb")) if p.is_dir() else [p] if p.suffix == ".ipynb" and p.exists() else []
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="executed notebooks, or directories of them")
    ap.add_argument("--namespace", "-n", action="append", default=[], help="read live secrets from here")
    ap.add_argument(
        "--all-namespaces", "-A", action="store_true", help="read live secrets from every namespace"
    )
    ap.add_argument("--context", default=None, help="kube context for the live secrets")
    args = ap.parse_args(argv)

    notebooks = notebooks_in(args.paths)
    if not notebooks:
        print(
            f"scan_secrets: no notebooks in {' '.join(args.paths)} — run the notebook suite first",
            file=sys.stderr,
        )
        return 2
    secrets: dict[str, str] = {}
    if args.namespace or args.all_namespaces:
        secrets = live_secrets(None if args.all_namespaces else args.namespace, args.context)
    findings, outputs = [], 0
    for nb in notebooks:
        f, n = scan(nb, secrets)
        findings += f
        outputs += n
    print(f"scan_secrets: {len(notebooks)} notebooks, {outputs} outputs, {len(secrets)} live secret values, "
          f"{len(PATTERNS)} patterns: {len(findings)} finding(s)")  # fmt: skip
    for f in findings:
        print(f"  {f}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
