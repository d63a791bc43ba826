"""run_suite with real papermill and real kernels over a tiny notebook directory."""

from __future__ import annotations

import json

import nbformat
import pytest

from kafkalab import suite
from kafkalab.errors import NotFound


def write_nb(path, *sources, parameters="greeting = 'default'\nteardown = False"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def notebooks(tmp_path):
    d = tmp_path / "notebooks"
    d.mkdir()
    (d / "data.txt").write_text("beside the notebooks\n")
    write_nb(d / "00-hello.ipynb", "print(greeting)", "print(open('data.txt').read().strip())")
    write_nb(
        d / "01-breaks.ipynb",
        "from kafkalab.errors import NotFound\n"
        "raise NotFound('Kafka cluster x does not exist', obj='Kafka kafka/x', fix='create it')",
    )
    write_nb(d / "02-after.ipynb", "print('never runs')")
    (d / "README.md").write_text("not a notebook")
    (d / "scratch.ipynb").write_text("{}")  # not NN-*: not part of the suite
    return d


def test_find_notebooks(notebooks):
    names = [p.name for p in suite.find_notebooks(notebooks)]
    assert names == ["00-hello.ipynb", "01-breaks.ipynb", "02-after.ipynb"]
    assert [p.name for p in suite.find_notebooks(notebooks, ["02", "00-hello", "00-hello.ipynb"])] == [
        "02-after.ipynb",
        "00-hello.ipynb",
    ]
    with pytest.raises(NotFound, match="no notebook matches '7'"):
        suite.find_notebooks(notebooks, ["7"])


def test_stops_at_first_failure_and_writes_summaries(notebooks, tmp_path):
    out = tmp_path / "out"
    started, finished = [], []
    summary = suite.run_suite(
        out,
        {"greeting": "hello from the suite"},
        notebook_dir=notebooks,
        on_start=started.append,
        on_result=finished.append,
    )
    assert not summary.ok
    assert [(r.notebook, r.status) for r in summary.results] == [
        ("00-hello.ipynb", "passed"),
        ("01-breaks.ipynb", "failed"),
        ("02-after.ipynb", "skipped"),
    ]
    assert started == ["00-hello.ipynb", "01-breaks.ipynb"]
    assert [r.notebook for r in finished] == started
    assert summary.failed.error == "NotFound: Kafka cluster x does not exist"

    # executed notebooks: parameters injected, cwd was the notebooks directory
    outputs = [o for c in nbformat.read(out / "00-hello.ipynb", 4).cells for o in c.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs)
    assert "hello from the suite" in text and "beside the notebooks" in text
    assert (out / "01-breaks.ipynb").exists() and not (out / "02-after.ipynb").exists()

    data = json.loads((out / "summary.json").read_text())
    assert data["ok"] is False
    assert data["parameters"] == {"greeting": "hello from the suite"}
    assert [r["status"] for r in data["results"]] == ["passed", "failed", "skipped"]
    assert data["results"][0]["seconds"] > 0
    md = (out / "summary.md").read_text()
    assert "FAILED" in md and "| 02-after.ipynb | skipped |" in md


def test_all_pass(notebooks, tmp_path):
    summary = suite.run_suite(tmp_path / "o", {}, notebooks=["00"], notebook_dir=notebooks)
    assert summary.ok and len(summary.results) == 1
    assert "passed" in (tmp_path / "o" / "summary.md").read_text()
