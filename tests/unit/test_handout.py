"""The handout site, built for real by nbconvert from a small executed-looking run made here."""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from click.testing import CliRunner

from kafkalab import cli, handout
from kafkalab.errors import KafkalabError, NotFound

pytest.importorskip("nbconvert")

SECRET = "s3cr3t-in-widget-state"  # lives only in notebook metadata, which no page may show


def make_run(tmp_path, extra_markdown=""):
    """A run dir as `kafkalab run` writes it: 01 passed (with outputs), 02 failed, 03 skipped (no file)."""
    run = tmp_path / "run"
    run.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": SECRET}}}
    nb.metadata["papermill"] = {"parameters": {"namespace": "kafka"}, "environment_variables": {"X": SECRET}}
    code = nbformat.v4.new_code_cell("print('hello')")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello output\n")]
    code.metadata["papermill"] = {"duration": 0.1}
    tagged = nbformat.v4.new_code_cell("answer = 6 * 7\nprint(answer)")
    tagged.metadata["tags"] = ["solution"]
    tagged.outputs = [nbformat.v4.new_output("stream", name="stdout", text="forty-two\n")]
    hidden = nbformat.v4.new_code_cell("collapsed_in_lab = True")
    hidden.metadata["jupyter"] = {"source_hidden": True}
    widget = nbformat.v4.new_code_cell("show_pods()")
    widget.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
                "text/plain": "pods table",
            },
        )
    ]
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 01 · A small notebook\n\nSee [the glossary](../docs/glossary.md#offset)." + extra_markdown
        ),
        code,
        nbformat.v4.new_markdown_cell("**Exercise.** Compute the answer."),
        tagged,
        hidden,
        widget,
    ]
    nbformat.write(nb, run / "01-small.ipynb")
    failed = nbformat.v4.new_notebook()
    failed.cells = [nbformat.v4.new_code_cell("raise SystemExit")]
    nbformat.write(failed, run / "02-failing.ipynb")
    results = [
        {"notebook": "01-small.ipynb", "status": "passed", "seconds": 12.4, "error": ""},
        {"notebook": "02-failing.ipynb", "status": "failed", "seconds": 3.0, "error": "SystemExit: a | b"},
        {"notebook": "03-later.ipynb", "status": "skipped", "seconds": 0.0, "error": ""},
    ]
    summary = {"ok": False, "parameters": {"namespace": "team-kafka"}, "results": results}
    (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def docs(tmp_path):
    d = tmp_path / "docs"
    d.mkdir()
    (d / "troubleshooting.md").write_text(
        "# Troubleshooting\n\n| you see | section |\n|---|---|\n"
        "| OOM | [2](#2-the-operator-is-oomkilled) |\n\n"
        "## 2. The operator is `OOMKilled`\n\nRead the [glossary](glossary.md).\n"
    )
    (d / "glossary.md").write_text("# Glossary\n\n## Offset\n\nSee [then and now](mapping.md).\n")
    (d / "mapping.md").write_text("# Then and now\n\nSee [notebook 01](../notebooks/01-small.ipynb).\n")
    (d / handout.DIAGRAM).write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    )
    return d


def build(tmp_path, docs, **kw):
    return handout.build_handout(kw.pop("run", None) or make_run(tmp_path), tmp_path / "site", docs_dir=docs)


def test_pages_index_first_with_timing_table(tmp_path, docs):
    made = build(tmp_path, docs)
    names = [p.name for p in made.pages]
    assert names == ["index.html", "01-small.html", "02-failing.html", "troubleshooting.html",
                     "glossary.html", "mapping.html"]  # fmt: skip
    index = made.index.read_text()
    assert re.search(r'<a href="01-small.html">01 · A small notebook</a></td>\s*<td[^>]*>passed</td>\s*'
                     r'<td[^>]*>12 s</td>', index)  # fmt: skip
    assert "SystemExit: a | b" in index  # the failure is shown, its pipe escaped out of the table syntax
    assert "03-later.ipynb" in index and 'href="03-later' not in index  # skipped: listed, no page
    assert "<strong>15 s</strong>" in index  # total
    assert f'src="{handout.DIAGRAM}"' in index and (made.directory / handout.DIAGRAM).is_file()
    assert "team-kafka" in index  # the run's parameters


def test_notebook_page_real_outputs_and_folded_solutions(tmp_path, docs):
    page = (build(tmp_path, docs).directory / "01-small.html").read_text()
    assert "hello output" in page
    folded = re.findall(r'<details class="kl-solution">(.*?)</details>', page, re.S)
    assert len(folded) == 2  # the tagged cell and the one collapsed in JupyterLab
    assert "forty-two" in folded[0] and "answer" in folded[0]
    assert "collapsed_in_lab" in folded[1] and "jp-mod-collapsed" not in folded[1]
    assert "<details open" not in page  # folded until clicked
    assert "hello output" not in "".join(folded)  # ordinary cells stay unfolded
    assert "pods table" in page  # a widget's text stand-in, no widget machinery
    assert 'href="index.html"' in page and 'href="02-failing.html"' in page  # navigation


def test_nothing_beyond_sources_and_outputs_is_shown(tmp_path, docs):
    made = build(tmp_path, docs)
    for page in made.pages:
        text = page.read_text()
        assert SECRET not in text, page.name
        assert "widget-state+json" not in text and "papermill" not in text, page.name


def test_pages_load_nothing_from_other_machines(tmp_path, docs):
    made = build(tmp_path, docs)
    for page in made.pages:
        text = page.read_text()
        assert handout.offsite_assets(text) == [], page.name
        assert "<script" not in text, page.name  # no require.js, MathJax, widget manager


def test_an_image_from_the_web_fails_the_build_naming_it(tmp_path, docs):
    run = make_run(tmp_path, extra_markdown='\n\n<img src="https://cdn.example.com/logo.png">')
    with pytest.raises(KafkalabError, match=r"cdn\.example\.com/logo\.png") as e:
        build(tmp_path, docs, run=run)
    assert e.value.obj.endswith("01-small.html")


def test_docs_links_and_anchors_work_in_the_site(tmp_path, docs):
    site = build(tmp_path, docs).directory
    trouble = (site / "troubleshooting.html").read_text()
    assert 'id="2-the-operator-is-oomkilled"' in trouble  # GitHub's slug, as the table links it
    assert 'href="#2-the-operator-is-oomkilled"' in trouble
    assert 'href="glossary.html"' in trouble
    assert 'href="01-small.html"' in (site / "mapping.html").read_text()
    assert 'href="glossary.html#offset"' in (site / "01-small.html").read_text()


@pytest.mark.parametrize(
    "html, urls",
    [
        ('<script src="https://cdn.jsdelivr.net/x.js"></script>', ["https://cdn.jsdelivr.net/x.js"]),
        ("<link rel=stylesheet href=//fonts.example.org/a.css>", ["//fonts.example.org/a.css"]),
        ("<style>@font-face{src:url('https://f.example/f.woff2')}</style>", ["https://f.example/f.woff2"]),
        ('<style>@import "http://x.example/y.css";</style>', ["http://x.example/y.css"]),
        ('<a href="https://strimzi.io">a link is not an asset</a>', []),
        ('<img src="data:image/png;base64,AAAA"><img src="operator-pattern.svg">', []),
    ],
)
def test_offsite_assets(html, urls):
    assert handout.offsite_assets(html) == urls


@pytest.mark.parametrize(
    "heading, slug",
    [
        ("1. The operator is forbidden (RBAC mismatch)", "1-the-operator-is-forbidden-rbac-mismatch"),
        ("13. <code>NoBrokersAvailable</code> / unable to bootstrap",
         "13-nobrokersavailable--unable-to-bootstrap"),
        ("9. Missing <code>strimzi.io/cluster</code> label", "9-missing-strimziiocluster-label"),
    ],
)  # fmt: skip
def test_github_slug(heading, slug):
    assert handout.github_slug(heading) == slug


def test_is_folded():
    assert handout.is_folded({"metadata": {"tags": ["solution"]}})
    assert handout.is_folded({"metadata": {"jupyter": {"source_hidden": True}}})
    assert not handout.is_folded({"metadata": {"tags": ["parameters"]}})
    assert not handout.is_folded({})


def test_rebuild_replaces_an_earlier_handout_but_never_another_directory(tmp_path, docs):
    run = make_run(tmp_path)
    handout.build_handout(run, tmp_path / "site", docs_dir=docs)
    (tmp_path / "site" / "stale.html").write_text("old")
    handout.build_handout(run, tmp_path / "site", docs_dir=docs)
    assert not (tmp_path / "site" / "stale.html").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(KafkalabError, match="not empty") as e:
        handout.build_handout(run, other, docs_dir=docs)
    assert "--output" in e.value.fix and (other / "notes.txt").read_text() == "keep me"


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(NotFound, match="not the output of a kafkalab run") as e:
        handout.build_handout(tmp_path, tmp_path / "site")
    assert "kafkalab run --output" in e.value.fix


def test_cli_handout(tmp_path, docs, monkeypatch):
    monkeypatch.setattr(handout, "ROOT", docs.parent)  # the docs/ beside this fake checkout
    run = make_run(tmp_path)
    result = CliRunner().invoke(cli.main, ["handout", str(run), "--output", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    assert "6 pages" in result.output and (tmp_path / "site" / "index.html").is_file()
    bad = CliRunner().invoke(cli.main, ["handout", str(tmp_path / "nothing"), "-o", str(tmp_path / "s2")])
    assert bad.exit_code == 1 and "not the output of a kafkalab run" in bad.output


def test_a_japanese_run_gives_japanese_pages(tmp_path, docs):
    """A run of `kafkalab run --edition ja` (summary.json says so): <html lang="ja">, the site's own words in
    Japanese, docs/ja/ where a page is translated and the English page (marked so) where it is not."""
    run = make_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "edition": "ja"}))
    (docs / "ja").mkdir()
    (docs / "ja" / "glossary.md").write_text(
        "# 用語集\n\n## オフセット\n\n図は [operator-pattern.svg](../operator-pattern.svg)、"
        "英語版は [../glossary.md](../glossary.md)、[当時と今](mapping.md)。\n"
    )
    made = build(tmp_path, docs, run=run)
    site = made.directory
    for page in made.pages:
        assert '<html lang="ja">' in page.read_text(), page.name
    index = made.index.read_text()
    assert (
        "<span>目次</span>" in index
        and "ノートブック（<strong>失敗したノートブックがあります</strong>）" in index
    )
    assert re.search(r">失敗: SystemExit: a \| b</td>", index)
    assert '<a href="glossary.html">用語集</a>' in index
    assert (
        '<a href="troubleshooting.html">トラブルシューティング（英語）</a>' in index
    )  # docs/troubleshooting.md
    glossary = (site / "glossary.html").read_text()
    assert 'id="オフセット"' in glossary and 'href="operator-pattern.svg"' in glossary
    assert "解答（クリックで表示）" in (site / "01-small.html").read_text()
    assert "Noto Sans CJK JP" in index  # a CJK font named before the generic family


def test_an_english_run_keeps_lang_en(tmp_path, docs):
    made = build(tmp_path, docs)
    assert '<html lang="en">' in made.index.read_text()
    assert "Solution (click to show)" in (made.directory / "01-small.html").read_text()
