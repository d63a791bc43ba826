"""kafkalab.checked gives nbval's verdict: the same cells checked, the same fields compared, the same
sanitize file. Each case is judged by nbval 0.11's own comparison (IPyNbCell.compare_outputs) and by ours."""

from __future__ import annotations

import copy
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbval import plugin

from kafkalab import checked
from kafkalab.suite import notebooks_dir

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = checked.sanitize_patterns()


def out(kind, text=None, **data):
    if kind in ("stdout", "stderr"):
        return nbformat.v4.new_output("stream", name=kind, text=text)
    if kind == "error":
        return nbformat.v4.new_output("error", ename=data["ename"], evalue=data["evalue"], traceback=["tb"])
    if kind == "display_data":
        return nbformat.v4.new_output(kind, data=data)
    return nbformat.v4.new_output(kind, data=data, execution_count=3)


def nbval_verdict(ran, stored) -> bool:
    cell = SimpleNamespace(
        parent=SimpleNamespace(skip_compare=_nbval_skips()),
        colors=plugin.nocolors,
    )
    cell.parent.sanitize_patterns = OrderedDict(PATTERNS)
    cell.sanitize = lambda s: plugin.IPyNbCell.sanitize(cell, s)
    cell.format_output_compare = lambda *a: None
    ran, stored = copy.deepcopy(ran), copy.deepcopy(stored)
    return plugin.IPyNbCell.compare_outputs(
        cell, plugin.coalesce_streams(ran), plugin.coalesce_streams(stored)
    )


def _nbval_skips():
    # nbval's IPyNbFile.skip_compare without --nbdime (set in its __init__, which needs a pytest session)
    return (
        "metadata",
        "traceback",
        "prompt_number",
        "output_type",
        "name",
        "execution_count",
        "application/vnd.jupyter.widget-view+json",
        "image/png",
        "image/jpeg",
    )


def ours(ran, stored) -> bool:
    def nb(outputs):
        cell = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nx", execution_count=1, outputs=outputs)
        return nbformat.v4.new_notebook(cells=[cell])

    return checked.check_notebook(nb(copy.deepcopy(stored)), nb(copy.deepcopy(ran)), PATTERNS) == []


TEXT_3 = {"text/plain": "3"}
CASES = {
    "same": ([out("stdout", "lost: 0\n")], [out("stdout", "lost: 0\n")]),
    "differs": ([out("stdout", "lost: 1\n")], [out("stdout", "lost: 0\n")]),
    "sanitized": ([out("stdout", "at 1.2.3.4:9094 in 3.2 s\n")], [out("stdout", "at localhost:32 in 1s\n")]),
    "split-streams": ([out("stdout", "a\n"), out("stdout", "b\n")], [out("stdout", "a\nb\n")]),
    "carriage-return": ([out("stdout", "50%\r100%\n")], [out("stdout", "100%\n")]),
    "extra-stderr": ([out("stdout", "a\n"), out("stderr", "warn\n")], [out("stdout", "a\n")]),
    "missing-output": ([], [out("stdout", "a\n")]),
    "result-differs": ([out("execute_result", **TEXT_3)], [out("execute_result", **{"text/plain": "4"})]),
    "result-same": ([out("execute_result", **TEXT_3)], [out("execute_result", **TEXT_3)]),
    "image-ignored": (
        [out("display_data", **{"text/plain": "<Figure>", "image/png": "AAA"})],
        [out("display_data", **{"text/plain": "<Figure>", "image/png": "BBB"})],
    ),
    "error-same": ([out("error", ename="E", evalue="boom")], [out("error", ename="E", evalue="boom")]),
    "error-differs": ([out("error", ename="E", evalue="boom")], [out("error", ename="E", evalue="bang")]),
    "stream-vs-result": ([out("stdout", "3\n")], [out("execute_result", **TEXT_3)]),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_same_verdict_as_nbval(name):
    ran, stored = CASES[name]
    expected = nbval_verdict(ran, stored)
    assert ours(ran, stored) == expected, f"nbval says {'same' if expected else 'differs'}"


def test_sanitize_file_is_the_one_nbval_uses():
    link = ROOT / "tests" / "notebooks" / "sanitize.cfg"
    assert link.resolve() == checked.SANITIZE_FILE.resolve()
    assert PATTERNS == plugin.get_sanitize_patterns(checked.SANITIZE_FILE.read_text()) and len(PATTERNS) >= 6


def test_checked_cells_are_found_as_nbval_finds_them():
    cells = [
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        nbformat.v4.new_code_cell("#NBVAL_CHECK_OUTPUT"),
        nbformat.v4.new_code_cell("print('NBVAL_CHECK_OUTPUT')"),
        nbformat.v4.new_markdown_cell("# NBVAL_CHECK_OUTPUT"),
    ]
    assert [checked.is_checked(c) for c in cells] == [True, True, False, False]
    for cell in cells[:3]:
        found = dict(plugin.find_comment_markers(cell.source))
        assert found.get("check", False) == checked.is_checked(cell)


def test_every_committed_notebook_passes_against_itself_and_fails_when_a_checked_line_changes():
    paths = sorted(notebooks_dir().glob("[0-9][0-9]-*.ipynb"))
    assert paths
    changed_any = False
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        assert checked.check_notebook(nb, nb) == [], path.name
        ran = copy.deepcopy(nb)
        for cell in ran.cells:
            if checked.is_checked(cell) and cell.execution_count and cell.outputs:
                cell.outputs = [out("stdout", "something else\n")]
                (mismatch,) = checked.check_notebook(nb, ran)
                assert "+[stdout] something else" in mismatch.diff
                changed_any = True
                break
    assert changed_any
