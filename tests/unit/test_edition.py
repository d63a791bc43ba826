"""The Japanese edition: notebooks/ja is generated from the English notebooks and notebooks/i18n/ja/.

The repository's edition: every markdown cell translated and current (no missing or stale entry, no orphan),
every code cell (source, outputs, metadata, id) identical between the editions, and the committed
notebooks/ja exactly what `kafkalab edition ja` writes. Then the checker itself on a tiny notebook.
Fix a failure: `kafkalab edition ja --check` lists it; `kafkalab edition ja --template` gives the entries
to translate; `kafkalab edition ja` regenerates notebooks/ja.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import yaml
from click.testing import CliRunner

from kafkalab import cli, edition

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
FIX = "see `kafkalab edition ja --check`; fill entries from `--template`, then `kafkalab edition ja`"


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_every_markdown_cell_is_translated_and_current():
    report = edition.check("ja")
    wrong = [p for p in report.problems if p.kind in ("missing", "stale", "orphan")]
    assert not wrong, f"{len(wrong)} catalog problem(s) ({FIX}):\n" + "\n".join(map(str, wrong))


def test_committed_edition_is_what_build_writes():
    outdated = edition.check("ja").of("outdated")
    assert not outdated, "notebooks/ja is out of date: run `kafkalab edition ja`\n" + "\n".join(
        map(str, outdated)
    )


@pytest.mark.parametrize("path", ENGLISH, ids=[p.name for p in ENGLISH])
def test_code_cells_are_identical_between_editions(path):
    ja = ROOT / "notebooks" / "ja" / path.name
    assert ja.is_file(), f"{ja} is missing: run `kafkalab edition ja`"
    en_cells, ja_cells = cells(path), cells(ja)
    assert [(c["id"], c["cell_type"]) for c in ja_cells] == [(c["id"], c["cell_type"]) for c in en_cells]
    for en, tr in zip(en_cells, ja_cells, strict=True):
        if en["cell_type"] == "code":
            assert tr == en, f"{path.name} cell {en['id']}: the code cell differs between editions"
        else:
            assert {k: v for k, v in tr.items() if k != "source"} == {
                k: v for k, v in en.items() if k != "source"
            }
    en_nb, ja_nb = (json.loads(p.read_text(encoding="utf-8")) for p in (path, ja))
    assert ja_nb["metadata"] == en_nb["metadata"]
    assert (ja_nb["nbformat"], ja_nb["nbformat_minor"]) == (en_nb["nbformat"], en_nb["nbformat_minor"])


@pytest.mark.parametrize("path", ENGLISH, ids=[p.name for p in ENGLISH])
def test_catalog_files_have_the_documented_shape(path):
    catalog = edition.catalog_path(path, "ja")
    if not catalog.is_file():
        pytest.fail(f"no catalog {catalog.relative_to(ROOT)} ({FIX})")
    text = catalog.read_text(encoding="utf-8")
    header = f"# {path.name} — Japanese catalog (one entry per markdown cell; key = cell id)\n"
    assert text.startswith(header), f"{catalog.name}: the first line must be {header!r}"
    for cid, entry in yaml.safe_load(text).items():
        assert set(entry) == {"en", "ja"}, f"{catalog.name} {cid}: keys {sorted(entry)}"
        assert len(str(entry["en"])) == edition.HASH_CHARS, f"{catalog.name} {cid}: en is not a 12-char hash"


# --- the checker itself, on a tiny notebook ---------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path):
    """notebooks/00-tiny.ipynb (two markdown cells, a parameters cell, a checked cell with its output) and a
    complete catalog for it."""
    base = tmp_path / "notebooks"
    base.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("# a comment stays English\nname = 'x'")
    params.metadata["tags"] = ["parameters"]
    checked = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('ok')")
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ok\n")]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Tiny\n\nYou should see **ok**."),
        params,
        nbformat.v4.new_markdown_cell("## Next\n\nThe end."),
        checked,
    ]
    for cell, cid in zip(nb.cells, ("title", "parameters", "next-md", "check"), strict=True):
        cell["id"] = cid
    path = base / "00-tiny.ipynb"
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    write_catalog(
        base, {"title": "# 00 · 小さな例\n\n**ok** と表示されるはずです。", "next-md": "## 次へ\n\n終わり。"}
    )
    return base


def write_catalog(base: Path, texts: dict[str, str], hashes: dict[str, str] | None = None) -> None:
    nb = json.loads((base / "00-tiny.ipynb").read_text())
    sources = {c["id"]: "".join(c["source"]) for c in nb["cells"]}
    lines = ["# 00-tiny.ipynb — Japanese catalog (one entry per markdown cell; key = cell id)"]
    for cid, text in texts.items():
        digest = (hashes or {}).get(cid) or edition.source_hash(sources.get(cid, ""))
        lines += [f"{cid}:", f"  en: {digest}", "  ja: |", *("    " + line for line in text.splitlines())]
    path = base / "i18n" / "ja" / "00-tiny.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_build_translates_markdown_and_copies_everything_else(tiny):
    assert [p.name for p in edition.build("ja", base=tiny)] == ["00-tiny.ipynb"]
    en = json.loads((tiny / "00-tiny.ipynb").read_text())
    ja = json.loads((tiny / "ja" / "00-tiny.ipynb").read_text())
    assert "".join(ja["cells"][0]["source"]) == "# 00 · 小さな例\n\n**ok** と表示されるはずです。"
    assert ja["cells"][1] == en["cells"][1] and ja["cells"][3] == en["cells"][3]  # code, tags, outputs
    assert ja["cells"][1]["metadata"]["tags"] == ["parameters"]
    assert ja["cells"][3]["outputs"][0]["text"] == ["ok\n"]
    assert ja["metadata"] == en["metadata"]
    assert edition.check("ja", base=tiny).ok, str(edition.check("ja", base=tiny))
    assert edition.build("ja", base=tiny) == []  # nothing changed: nothing written


def test_a_changed_english_cell_is_stale_and_stays_english_until_retranslated(tiny):
    edition.build("ja", base=tiny)
    nb = nbformat.read(tiny / "00-tiny.ipynb", as_version=4)
    nb.cells[2].source = "## Next steps\n\nThe end, changed."
    (tiny / "00-tiny.ipynb").write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    report = edition.check("ja", base=tiny)
    assert [(p.kind, p.notebook, p.cell) for p in report.of("stale")] == [
        ("stale", "00-tiny.ipynb", "next-md")
    ]
    assert "## Next steps" in report.of("stale")[0].detail  # the English first line, to find it
    assert report.of("outdated")  # notebooks/ja no longer matches
    edition.build("ja", base=tiny)
    ja = json.loads((tiny / "ja" / "00-tiny.ipynb").read_text())
    assert "".join(ja["cells"][2]["source"]) == "## Next steps\n\nThe end, changed."  # English, not old ja
    # the template offers the stale entry with its new hash, the English and the old translation
    skeleton = edition.template("ja", base=tiny)
    assert "next-md:" in skeleton and edition.source_hash(nb.cells[2].source) in skeleton
    assert "#   ## Next steps" in skeleton and "    ## 次へ" in skeleton and "title:" not in skeleton


def test_a_new_cell_is_missing_and_an_entry_for_no_cell_is_an_orphan(tiny):
    nb = nbformat.read(tiny / "00-tiny.ipynb", as_version=4)
    new = nbformat.v4.new_markdown_cell("**Exercise.** Print it twice.")
    new["id"] = "exercise"
    nb.cells.append(new)
    (tiny / "00-tiny.ipynb").write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    write_catalog(
        tiny,
        {
            "title": "# 00 · 小さな例\n\n**ok** と表示されるはずです。",
            "next-md": "## 次へ",
            "gone": "消えたセル",
        },
        hashes={"gone": "0123456789ab"},
    )
    edition.build("ja", base=tiny)
    report = edition.check("ja", base=tiny)
    assert [(p.kind, p.cell, p.detail) for p in report.problems] == [
        ("missing", "exercise", "**Exercise.** Print it twice."),
        ("orphan", "gone", "no markdown cell has this id"),
    ]
    # the skeleton for the missing entry is YAML that, filled in, makes the check pass
    skeleton = edition.template("ja", base=tiny)
    entry = yaml.safe_load(skeleton)["exercise"]
    assert entry["en"] == edition.source_hash(new.source) and not entry["ja"]
    catalog = tiny / "i18n" / "ja" / "00-tiny.yaml"
    filled = skeleton.split("exercise:", 1)[1].replace(
        "  ja: |\n    \n", "  ja: |\n    **演習.** 二回表示する。\n"
    )
    text = catalog.read_text().replace("gone:\n  en: 0123456789ab\n  ja: |\n    消えたセル\n", "")
    catalog.write_text(text + "exercise:" + filled, encoding="utf-8")
    edition.build("ja", base=tiny)
    assert edition.check("ja", base=tiny).ok, str(edition.check("ja", base=tiny))


def test_a_hand_edited_generated_notebook_is_outdated(tiny):
    edition.build("ja", base=tiny)
    target = tiny / "ja" / "00-tiny.ipynb"
    target.write_text(target.read_text().replace("print('ok')", "print('changed by hand')"))
    assert [p.kind for p in edition.check("ja", base=tiny).problems] == ["outdated"]


def test_cli_check_exits_1_with_the_list_and_template_prints_skeletons(tiny, monkeypatch):
    monkeypatch.setattr(edition, "_default_base", lambda: tiny)
    (tiny / "i18n" / "ja" / "00-tiny.yaml").unlink()
    runner = CliRunner()
    result = runner.invoke(cli.main, ["edition", "ja", "--check"])
    assert result.exit_code == 1
    assert "missing  00-tiny.ipynb title: # 00 · Tiny" in result.output
    assert "missing  00-tiny.ipynb next-md: ## Next" in result.output
    result = runner.invoke(cli.main, ["edition", "ja", "--template"])
    assert result.exit_code == 0
    assert "# 00-tiny.ipynb — Japanese catalog (one entry per markdown cell; key = cell id)" in result.output
    assert set(yaml.safe_load(result.output)) == {"title", "next-md"}
    result = runner.invoke(cli.main, ["edition", "ja"])
    assert result.exit_code == 0 and "2 markdown cell(s) left in English" in result.output
    assert (tiny / "ja" / "00-tiny.ipynb").is_file()
    result = runner.invoke(cli.main, ["edition", "xx"])
    assert result.exit_code == 1 and "no edition 'xx'" in result.output


@pytest.mark.parametrize(
    "text, wrapped",
    [
        ("日本語の文が\n途中で折り返されている。", "日本語の文が"),
        ("一行の段落。\n\n次の段落。", ""),
        ("# 見出し\n本文です。", ""),
        ("| 表 | 行 |\n| 表 | 行 |", ""),
        ("- 項目\n- 項目", ""),
        ("強制改行  \n次の行", ""),
        ("```\n日本\n語\n```", ""),
        ("`kubectl` を使う\n`kafka` の", ""),  # ASCII on one side: a space is right there
    ],
)
def test_wrapped_line(text, wrapped):
    assert edition.wrapped_line(text) == wrapped


def test_a_wrapped_sentence_is_a_note_not_a_failure(tiny):
    write_catalog(tiny, {"title": "# 00 · 小さな例\n\n**ok** と表示される\nはずです。", "next-md": "## 次へ"})
    edition.build("ja", base=tiny)
    report = edition.check("ja", base=tiny)
    assert report.ok and [(n.cell, n.kind) for n in report.notes] == [("title", "note")]
    assert "join it" in str(report)
