"""run_suite with real papermill and real kernels over a tiny notebook directory."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

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
    # the whole error, as the notebook shows it: class, message, object and fix (not only the first line)
    assert summary.failed.error == (
        "In [3]: NotFound: Kafka cluster x does not exist\n  object: Kafka kafka/x\n  fix: create it"
    )
    assert summary.failed.headline == "In [3]: NotFound: Kafka cluster x does not exist"
    assert "raise NotFound" in summary.failed.details  # the traceback, for JUnit

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
    assert "## 01-breaks.ipynb\n\n```\nIn [3]: NotFound: Kafka cluster x does not exist\n  object:" in md
    assert "  fix: create it\n```" in md

    junit = ET.parse(out / "junit.xml").getroot()
    assert junit.tag == "testsuite" and junit.get("tests") == "3" and junit.get("failures") == "1"
    cases = {c.get("name"): c for c in junit.iter("testcase")}
    assert list(cases) == ["00-hello.ipynb", "01-breaks.ipynb", "02-after.ipynb"]
    assert list(cases["00-hello.ipynb"]) == [] and float(cases["00-hello.ipynb"].get("time")) > 0
    failure = cases["01-breaks.ipynb"].find("failure")
    assert failure.get("message") == "In [3]: NotFound: Kafka cluster x does not exist"
    assert "fix: create it" in failure.text and "raise NotFound" in failure.text
    assert cases["02-after.ipynb"].find("skipped") is not None


def test_all_pass(notebooks, tmp_path):
    summary = suite.run_suite(tmp_path / "o", {}, notebooks=["00"], notebook_dir=notebooks)
    assert summary.ok and len(summary.results) == 1
    assert "passed" in (tmp_path / "o" / "summary.md").read_text()


def test_each_notebook_gets_only_the_parameters_it_declares(notebooks, tmp_path):
    write_nb(notebooks / "03-other.ipynb", "print(size)", parameters="size = 1")
    summary = suite.run_suite(
        tmp_path / "o",
        {"greeting": "hi", "size": 3, "nobody": True},
        notebooks=["00", "03"],
        notebook_dir=notebooks,
    )
    assert summary.ok, summary
    for name, declared in (("00-hello.ipynb", 'greeting = "hi"'), ("03-other.ipynb", "size = 3")):
        (injected,) = [
            c
            for c in nbformat.read(tmp_path / "o" / name, 4).cells
            if "injected-parameters" in c.metadata.tags
        ]
        assert injected.source.splitlines()[1:] == [declared]  # nothing another notebook declares
    assert summary.unused == ["nobody"]
    assert (
        "Declared by no notebook that ran, so not passed: nobody"
        in (tmp_path / "o" / "summary.md").read_text()
    )


def checked_nb(path, printed: str, stored: str):
    write_nb(path, f"# NBVAL_CHECK_OUTPUT\nprint({printed!r})")
    nb = nbformat.read(path, 4)
    nb.cells[1].execution_count = 2
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
    nbformat.write(nb, path)


def test_checked_outputs_are_compared_after_sanitizing(notebooks, tmp_path):
    checked_nb(
        notebooks / "04-same.ipynb", "ready at 127.0.0.1:32100 after 3 s", "ready at HOST:PORT after 9 s\n"
    )
    checked_nb(notebooks / "05-differs.ipynb", "lost: 1", "lost: 0\n")
    summary = suite.run_suite(tmp_path / "o", {}, notebooks=["04", "05"], notebook_dir=notebooks)
    assert [r.status for r in summary.results] == ["passed", "failed"]
    error = summary.failed.error
    assert error.startswith("checked output of cell 1 differs (print('lost: 1')):"), error
    assert "-[stdout] lost: 0\n+[stdout] lost: 1" in error

    unchecked = suite.run_suite(
        tmp_path / "u", {}, notebooks=["05"], notebook_dir=notebooks, check_outputs=False
    )
    assert unchecked.ok


def test_an_edition_runs_from_its_own_directory(notebooks, tmp_path, monkeypatch):
    (notebooks / "ja").mkdir()
    write_nb(notebooks / "ja" / "00-hello.ipynb", "print(greeting)")
    monkeypatch.chdir(tmp_path)  # notebooks_dir() finds ./notebooks first
    assert suite.notebooks_dir("ja") == notebooks / "ja"
    assert suite.notebooks_dir("en") == suite.notebooks_dir() == notebooks
    with pytest.raises(NotFound, match="no 'xx' edition"):
        suite.notebooks_dir("xx")
    summary = suite.run_suite(tmp_path / "out", {"greeting": "こんにちは"}, edition="ja")
    assert summary.ok and [r.notebook for r in summary.results] == ["00-hello.ipynb"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["edition"] == "ja"
    assert "Edition: ja" in (tmp_path / "out" / "summary.md").read_text()
