"""Translated editions of the notebooks: a catalog per notebook beside them, the edition generated from it.

The English notebooks in `notebooks/` are the source. A translation lives in a catalog, one YAML file per
notebook (`notebooks/i18n/<lang>/<notebook stem>.yaml`), with one entry per markdown cell, keyed by the
cell's id:

    # 03-kafka-cluster.ipynb — Japanese catalog (one entry per markdown cell; key = cell id)
    title:
      en: 1f2e3d4c5b6a     # sha256 of the English cell source, first 12 hex chars
      ja: |
        # 03 · Kafka クラスター
        ...

`build(lang)` writes `notebooks/<lang>/<same names>.ipynb`: every markdown cell's source replaced by its
translation, every code cell (source, outputs, metadata, id) and the notebook's metadata byte-identical to the
English edition — so the `parameters` tag and the stored outputs of the `# NBVAL_CHECK_OUTPUT` cells are the
same, and a run of the edition is checked exactly as the English one. A markdown cell whose entry is missing
or stale is written in English (what gettext does with untranslated and fuzzy entries).

`check(lang)` says what is not in order: missing entries (a markdown cell with no translation), stale ones
(the English cell changed since it was translated: its hash differs), orphans (an entry for no cell, a
catalog for no notebook), and generated notebooks that are not what `build` would write now; it also notes,
without failing, a translation that wraps a Japanese sentence across lines.

Write each Japanese paragraph (and list item) on one line: a line break inside a Japanese sentence is a soft
break in Markdown, which Chromium and JupyterLab show as a space between two characters.

`template(lang)` gives a translator the missing and stale entries as YAML to paste into the catalog, the
English text beside each as comments (and a stale entry's old translation to start from).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kafkalab.errors import KafkalabError, NotFound

__all__ = [
    "LANGUAGES",
    "Problem",
    "Report",
    "source_hash",
    "catalog_path",
    "load_catalog",
    "render",
    "build",
    "check",
    "template",
]

LANGUAGES = {"ja": "Japanese"}  # code → the language's English name, as the catalog header says it
HASH_CHARS = 12
ROOT = Path(__file__).resolve().parent.parent  # the checkout: the catalogs are not shipped in the wheel


def _notebooks(base: Path) -> list[Path]:
    return sorted(base.glob("[0-9][0-9]-*.ipynb"))


def _default_base() -> Path:
    base = ROOT / "notebooks"
    if not _notebooks(base):
        raise NotFound(
            "the English notebooks are not here: editions are built in the kafkalab repository checkout",
            obj=str(base),
            fix="run `kafkalab edition` from an editable install (`make venv` in the checkout)",
        )
    return base


def _language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise NotFound(
            f"no edition {lang!r}",
            obj=lang,
            fix="one of: " + ", ".join(LANGUAGES) + " (a new one: add it to kafkalab.edition.LANGUAGES)",
        )
    return LANGUAGES[lang]


def source_hash(source: str | Sequence[str]) -> str:
    """The catalog's key for an English cell: sha256 of its source (the joined lines), first 12 hex chars."""
    text = source if isinstance(source, str) else "".join(source)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def catalog_path(notebook: str | Path, lang: str = "ja", base: str | Path | None = None) -> Path:
    base = Path(base) if base else _default_base()
    return base / "i18n" / lang / (Path(notebook).stem + ".yaml")


def edition_dir(lang: str = "ja", base: str | Path | None = None) -> Path:
    return (Path(base) if base else _default_base()) / lang


def _header(notebook: str, lang: str) -> str:
    return f"# {notebook} — {_language(lang)} catalog (one entry per markdown cell; key = cell id)\n"


@dataclass
class Problem:
    """One thing `check` found: kind is missing, stale, orphan or outdated."""

    kind: str
    notebook: str
    cell: str = ""
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.notebook} {self.cell}".strip()
        return f"{self.kind:<8} {where}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    """What `check` found, in notebook order."""

    lang: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # advice that fails nothing (a wrapped sentence)

    @property
    def ok(self) -> bool:
        return not self.problems

    def of(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def __str__(self) -> str:
        if self.ok:
            done = f"{self.lang} edition: every markdown cell translated, notebooks/{self.lang} up to date"
            return "\n".join([done, *map(str, self.notes)])
        counts = ", ".join(
            f"{len(self.of(k))} {k}" for k in ("missing", "stale", "orphan", "outdated") if self.of(k)
        )
        return "\n".join([f"{self.lang} edition: {counts}", *map(str, self.problems), *map(str, self.notes)])


def load_catalog(path: Path) -> dict[str, dict]:
    """{cell id: {"en": hash, "ja": text}} from a catalog file ({} when there is none)."""
    import yaml

    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise KafkalabError(
            f"the catalog is not valid YAML: {e}",
            obj=str(path),
            fix="compare it with the format in kafkalab/edition.py (one `<cell id>:` block per cell, "
            "`en: <hash>`, `ja: |` and the text indented below)",
        ) from e
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise KafkalabError(
            "the catalog must map each cell id to an entry with `en:` and the translation",
            obj=str(path),
            fix="see the format in kafkalab/edition.py",
        )
    return {str(k): v for k, v in data.items()}


def _translation(entry: dict | None, lang: str) -> str:
    text = (entry or {}).get(lang)
    return text.rstrip("\n") if isinstance(text, str) else ""  # a `|` block ends with one newline


_BLOCK = re.compile(r"^\s*(?:[-*+>|#]|\d+\.\s|```|<)")


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def wrapped_line(text: str) -> str:
    """The end of the first line of `text` that breaks a paragraph between two Japanese characters (a soft
    break, which Chromium and JupyterLab render as a space), or "". Code blocks, tables, headings, list items
    and hard breaks (two trailing spaces) are not paragraphs' soft breaks."""
    lines, fence = text.split("\n"), False
    for line, following in zip(lines, lines[1:] + [""], strict=True):
        if line.lstrip().startswith("```"):
            fence = not fence
        if fence or not line.strip() or not following.strip() or line.endswith("  "):
            continue
        if line.lstrip().startswith(("|", "#")) or _BLOCK.match(following):
            continue
        if _wide(line.rstrip()[-1]) and _wide(following.lstrip()[0]):
            return line.rstrip()[-12:]
    return ""


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "(empty)")


def render(english: dict, catalog: dict[str, dict], lang: str = "ja") -> str:
    """The edition of one notebook (its JSON text) from the English notebook (parsed JSON) and its catalog.

    Markdown cells with a current translation get it; everything else is copied as it is."""
    nb = json.loads(json.dumps(english))  # a deep copy that keeps the key order
    for cell in nb["cells"]:
        if cell.get("cell_type") != "markdown":
            continue
        entry = catalog.get(cell.get("id", ""))
        text = _translation(entry, lang)
        if text and str((entry or {}).get("en")) == source_hash(cell["source"]):
            cell["source"] = text.splitlines(keepends=True)
    return _serialise(nb)


def _serialise(nb: dict) -> str:
    """As Jupyter saves a notebook (nbformat.writes + the newline jupyter_server adds), so opening and saving
    a generated notebook in JupyterLab changes nothing."""
    import nbformat

    return nbformat.writes(nbformat.from_dict(nb)) + "\n"


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def build(lang: str = "ja", base: str | Path | None = None) -> list[Path]:
    """Write notebooks/<lang>/ from the English notebooks and the catalog; return the files written
    (only those whose content changed). Generated notebooks of removed English ones are deleted."""
    _language(lang)
    base = Path(base) if base else _default_base()
    out = edition_dir(lang, base)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    english = _notebooks(base)
    for path in english:
        text = render(_read(path), load_catalog(catalog_path(path, lang, base)), lang)
        target = out / path.name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(target)
    names = {p.name for p in english}
    for stray in _notebooks(out):
        if stray.name not in names:
            stray.unlink()
    return written


def check(lang: str = "ja", base: str | Path | None = None) -> Report:
    """Missing, stale and orphan catalog entries, and generated notebooks that `build` would change."""
    _language(lang)
    base = Path(base) if base else _default_base()
    report = Report(lang)
    english = _notebooks(base)
    for path in english:
        nb = _read(path)
        catalog = load_catalog(catalog_path(path, lang, base))
        ids = set()
        for cell in nb["cells"]:
            if cell.get("cell_type") != "markdown":
                continue
            cid = cell.get("id", "")
            ids.add(cid)
            source = "".join(cell["source"])
            entry = catalog.get(cid)
            if not _translation(entry, lang):
                report.problems.append(Problem("missing", path.name, cid, _first_line(source)))
            elif str(entry.get("en")) != source_hash(source):
                report.problems.append(
                    Problem("stale", path.name, cid, "the English changed: " + _first_line(source))
                )
            wrapped = wrapped_line(_translation(entry, lang))
            if wrapped:
                report.notes.append(
                    Problem(
                        "note",
                        path.name,
                        cid,
                        f"a sentence wraps after {wrapped!r}: join it (shows as a space)",
                    )
                )
        for cid in catalog:
            if cid not in ids:
                report.problems.append(Problem("orphan", path.name, cid, "no markdown cell has this id"))
        target = edition_dir(lang, base) / path.name
        if not target.is_file():
            report.problems.append(Problem("outdated", path.name, "", f"{target} is missing: build it"))
        elif target.read_text(encoding="utf-8") != render(nb, catalog, lang):
            report.problems.append(Problem("outdated", path.name, "", f"{target} differs from its build"))
    names = {p.stem for p in english}
    catalogs = base / "i18n" / lang
    for stray in sorted(catalogs.glob("*.yaml")) if catalogs.is_dir() else []:
        if stray.stem not in names:
            report.problems.append(Problem("orphan", stray.name, "", "a catalog for no notebook"))
    for stray in _notebooks(edition_dir(lang, base)):
        if stray.stem not in names:
            report.problems.append(Problem("outdated", stray.name, "", "generated for no English notebook"))
    return report


def _indented(text: str, prefix: str) -> str:
    return "\n".join((prefix + line).rstrip() for line in text.splitlines()) + "\n"


def template(lang: str = "ja", base: str | Path | None = None, notebooks: Sequence[str] = ()) -> str:
    """YAML skeletons of the missing and stale entries, per catalog file, for a translator to fill in.

    Each carries the current hash, the English text as comments and, for a stale entry, its old
    translation to edit. `notebooks`: only these ("03", "03-kafka-cluster" or a file name)."""
    _language(lang)
    base = Path(base) if base else _default_base()
    wanted = {Path(n).name.removesuffix(".ipynb") for n in notebooks}
    parts = []
    for path in _notebooks(base):
        if wanted and not ({path.stem, path.stem.split("-", 1)[0]} & wanted):
            continue
        nb = _read(path)
        catalog_file = catalog_path(path, lang, base)
        catalog = load_catalog(catalog_file)
        entries = []
        for cell in nb["cells"]:
            if cell.get("cell_type") != "markdown":
                continue
            cid, source = cell.get("id", ""), "".join(cell["source"])
            entry = catalog.get(cid)
            old = _translation(entry, lang)
            digest = source_hash(source)
            if old and str(entry.get("en")) == digest:
                continue
            lines = [f"{cid}:", f"  en: {digest}"]
            state = "stale: it changed since it was translated" if old else "missing"
            lines.append(f"  # English ({state}; translate each paragraph onto one line):")
            lines.append(_indented(source, "  #   ").rstrip("\n"))
            lines.append(f"  {lang}: |")
            lines.append(_indented(old, "    ").rstrip("\n") if old else "    ")
            entries.append("\n".join(lines))
        if entries:
            where = (
                catalog_file.relative_to(base.parent) if base.parent in catalog_file.parents else catalog_file
            )
            head = f"# ---- {where}\n"
            if not catalog_file.is_file():  # a new catalog starts with its header line
                head = f"# ---- {where} (a new file)\n" + _header(path.name, lang)
            parts.append(head + "\n".join(entries) + "\n")
    return "\n".join(parts)
