"""Check the `# NBVAL_CHECK_OUTPUT` cells of an executed notebook against the outputs stored in its source.

The same rules as `pytest --nbval-lax --nbval-sanitize-with sanitize.cfg` (nbval 0.11), so `kafkalab run`
gives the nbval verdict from its one execution: a cell is checked when its source has the marker and its
stored execution_count is set; stream outputs of one name are merged (\\r and \\b applied); every output
field except metadata, traceback, output_type, execution_count, images and widget ids is compared after the
sanitize patterns (kafkalab/sanitize.cfg, also tests/notebooks/sanitize.cfg) have masked what may vary.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MARKER", "Mismatch", "check_notebook", "is_checked", "sanitize_patterns", "SANITIZE_FILE"]

MARKER = "NBVAL_CHECK_OUTPUT"
SANITIZE_FILE = Path(__file__).with_name("sanitize.cfg")
# nbval's skip_compare (without --nbdime): fields that legitimately differ between runs
_SKIP = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
}
_CARRIAGE_RETURN = re.compile(r"^.*\r(?=[^\n])", re.MULTILINE)
_BACKSPACE = re.compile("[^\\n]\\x08")  # a character, then a backspace
_MAX_DIFF_LINES = 40


@dataclass
class Mismatch:
    """A checked cell whose output differs: `cell` is its index in the source notebook."""

    cell: int
    source: str
    diff: str

    def __str__(self) -> str:
        first = self.source.strip().splitlines()
        shown = next((line for line in first if MARKER not in line), "")
        return f"checked output of cell {self.cell} differs ({shown[:80]}):\n{self.diff}"


def sanitize_patterns(path: str | Path = SANITIZE_FILE) -> list[tuple[str, str]]:
    """(regex, replacement) pairs, read exactly as nbval reads them."""
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", Path(path).read_text(), flags=re.MULTILINE)


def is_checked(cell: dict) -> bool:
    """A code cell with the marker comment on a line of its own (nbval's comment-marker rule)."""
    if cell.get("cell_type") != "code":
        return False
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    tags = cell.get("metadata", {}).get("tags", [])
    return "nbval-check-output" in tags or any(
        line.strip().startswith("#") and line.strip().lstrip("#").strip() == MARKER
        for line in source.splitlines()
    )


def _coalesce(outputs: list[dict]) -> list[dict]:
    merged: list[dict] = []
    streams: dict[str, dict] = {}
    for out in outputs:
        if out.get("output_type") != "stream":
            merged.append(out)
        elif out["name"] in streams:
            streams[out["name"]]["text"] += _text(out["text"])
        else:
            streams[out["name"]] = {"output_type": "stream", "name": out["name"], "text": _text(out["text"])}
            merged.append(streams[out["name"]])
    for out in streams.values():
        old = None
        while old != out["text"]:
            old, out["text"] = out["text"], _BACKSPACE.sub("", out["text"])
        out["text"] = _CARRIAGE_RETURN.sub("", out["text"])
    return merged


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _flatten(outputs: list[dict], patterns: list[tuple[str, str]]) -> dict[str, list]:
    """nbval's comparison form: field (stream name, MIME type, ename, …) → its sanitized values in order."""

    def clean(value):
        value = _text(value)
        if isinstance(value, str):
            for regex, replace in patterns:
                value = re.sub(regex, replace, value)
        return value

    fields: dict[str, list] = defaultdict(list)
    for out in _coalesce(outputs):
        if out.get("output_type") == "stream":
            fields[out["name"]].append(clean(out["text"]))
            continue
        for key, value in out.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in _SKIP:
                        fields[mime].append(clean(data))
            elif key not in _SKIP:
                fields[key].append(clean(value))
    return fields


def _diff(expected: dict[str, list], got: dict[str, list]) -> str:
    def render(fields: dict[str, list]) -> list[str]:
        lines = []
        for key in sorted(fields):
            for value in fields[key]:
                lines += [f"[{key}] {line}" for line in str(value).splitlines() or [""]]
        return lines

    diff = list(difflib.unified_diff(render(expected), render(got), "stored", "this run", lineterm="", n=2))
    if len(diff) > _MAX_DIFF_LINES:
        diff = diff[:_MAX_DIFF_LINES] + [f"… ({len(diff) - _MAX_DIFF_LINES} more diff lines)"]
    return "\n".join(diff)


def check_notebook(
    reference: dict, executed: dict, patterns: list[tuple[str, str]] | None = None
) -> list[Mismatch]:
    """Mismatches between the checked cells of `reference` (the stored notebook) and `executed` (the same
    notebook after a run; papermill's injected-parameters cell carries no marker, so the checked cells pair
    up in order). Both are notebooks as dicts (nbformat 4)."""
    patterns = sanitize_patterns() if patterns is None else patterns
    stored = [(i, c) for i, c in enumerate(reference["cells"]) if is_checked(c)]
    ran = [c for c in executed["cells"] if is_checked(c)]
    if len(stored) != len(ran):
        count = f"{len(stored)} checked cells stored, {len(ran)} in the executed notebook"
        return [Mismatch(-1, "", count)]
    mismatches = []
    for (index, ref), run in zip(stored, ran, strict=True):
        if ref.get("execution_count") is None:
            continue  # nbval compares only cells whose stored execution_count is set
        expected, got = _flatten(ref.get("outputs", []), patterns), _flatten(run.get("outputs", []), patterns)
        if expected != got:
            mismatches.append(Mismatch(index, _text(ref.get("source", "")), _diff(expected, got)))
    return mismatches
