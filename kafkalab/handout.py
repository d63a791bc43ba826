"""Handouts: a static site, readable offline, made from an executed run of the notebook suite.

Input is what `kafkalab run --output DIR` writes (executed notebooks + summary.json). Output is one HTML page
per notebook with its real outputs (nbconvert's `lab` template, so it looks like JupyterLab), exercise
solutions folded in <details>, a contents page with the run's timing table and the operator diagram, and the
reference pages from docs/ (troubleshooting, glossary, then-and-now). Every page is self-contained: styles
are inlined, images are data URIs or files beside the page, and nothing is loaded from a CDN (MathJax,
require.js, the widget manager and mermaid are left out of the template). The build checks that last
promise on every page it writes and fails naming the page and URL if it is broken.

The handout shows only what the notebook pages show anyway: cell sources and outputs. Notebook metadata
(papermill's, stored widget state) is dropped before rendering.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from kafkalab.errors import KafkalabError, MissingTool, NotFound

__all__ = [
    "Handout",
    "build_handout",
    "is_folded",
    "offsite_assets",
    "github_slug",
    "SOLUTION_TAG",
    "DOC_PAGES",
    "DIAGRAM",
]

ROOT = Path(__file__).resolve().parent.parent  # the checkout (kafkalab is installed editable from it)
SOLUTION_TAG = "solution"  # a cell tagged so (or collapsed in JupyterLab) is folded in the handout
FOLDED = "kafkalab-folded"  # our own marker tag, set on a copy of the cell just before rendering
DOC_PAGES = {  # docs/ file → title on the contents page, in this order
    "troubleshooting.md": "Troubleshooting",
    "glossary.md": "Glossary",
    "mapping.md": "Then and now: the 2018 walkthrough on today's Strimzi",
}
DIAGRAM = "operator-pattern.svg"
# A translated run (summary.json's "edition", from `kafkalab run --edition ja`) gets pages in its language:
# <html lang>, the site's own words, docs/<lang>/ where a page is translated (else the English one).
STRINGS = {
    "en": {
        "contents": "Contents",
        "previous": "← previous",
        "next": "next →",
        "solution": "Solution (click to show)",
        "handout": "kafkalab handout",
        "title": "kafkalab: Kafka on Kubernetes with Strimzi",
        "intro": "The notebooks of the course as they ran, with their real outputs. Exercise solutions are "
        "folded: click *Solution* to open one.",
        "notebooks": "The notebooks ({verdict})",
        "status": {},
        "all_passed": "every notebook passed",
        "not_all_passed": "**not every notebook passed**",
        "table": "| notebook | status | time |",
        "total": "total",
        "reference": "Reference",
        "pattern": "The operator pattern",
        "pattern_text": "You describe what you want in custom resources; Strimzi's operators make it so and "
        "report back in `.status` (notebook 00 explains it).",
        "diagram_alt": "Cluster, Topic and User Operators at work",
        "parameters": "Parameters of this run",
    },
    "ja": {
        "contents": "目次",
        "previous": "← 前へ",
        "next": "次へ →",
        "solution": "解答（クリックで表示）",
        "handout": "kafkalab ハンドアウト",
        "title": "kafkalab：Strimzi で動かす Kubernetes 上の Kafka",
        "intro": "コースのノートブックを、実行したときの実際の出力とともに載せています。演習の解答は"
        "折りたたんであります。*解答* をクリックすると開きます。",
        "notebooks": "ノートブック（{verdict}）",
        "status": {"passed": "成功", "failed": "失敗", "skipped": "スキップ"},
        "all_passed": "すべて成功",
        "not_all_passed": "**失敗したノートブックがあります**",
        "table": "| ノートブック | 結果 | 時間 |",
        "total": "合計",
        "reference": "リファレンス",
        "pattern": "オペレーターパターン",
        "pattern_text": "ほしい状態をカスタムリソースで記述すると、Strimzi のオペレーターがそのとおりにし、"
        "結果を `.status` に書き戻します（ノートブック 00 で説明しています）。",
        "diagram_alt": "Cluster Operator、Topic Operator、User Operator の動き",
        "parameters": "この実行のパラメーター",
    },
}
DOC_TITLES = {  # a translated doc page's title; an untranslated one keeps its English title and says so
    "ja": {
        "troubleshooting.md": "トラブルシューティング",
        "glossary.md": "用語集",
        "mapping.md": "当時と今：2018 年ごろの Strimzi 手順を今日の Strimzi で",
    },
}
ENGLISH_ONLY = {"ja": "（英語）"}
# CJK text needs a CJK font; name the common ones before the generic family, so each system picks its own
# (macOS Hiragino, Windows Yu Gothic/Meiryo, Linux Noto Sans CJK) rather than whatever fallback it has.
CJK_FONTS = (
    'system-ui, -apple-system, "Segoe UI", helvetica, arial, "Hiragino Sans", "Hiragino Kaku Gothic ProN", '
    '"Yu Gothic UI", "Yu Gothic", Meiryo, "Noto Sans CJK JP", "Noto Sans JP", "Source Han Sans JP", '
    "sans-serif"
)
LANG_CSS = f"html:lang(ja) {{ --jp-ui-font-family: {CJK_FONTS}; --jp-content-font-family: {CJK_FONTS}; }}"
MARKER = ".kafkalab-handout"  # marks a directory as ours, so a rebuild may empty it
# Chromium, quiet: no sandbox (root in a container), and none of its own calls home (updates, sync, QUIC)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Extends nbconvert's lab template: no CDN scripts, a navigation bar, folded solutions.
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">
nav.kl-nav { display: flex; gap: 1.5em; padding: 0.6em 1em; border-bottom: 1px solid #ddd;
  font-family: var(--jp-ui-font-family); font-size: 14px; background: #fafafa; }
nav.kl-nav .kl-next { margin-left: auto; }
details.kl-solution { margin: 0.5em 0 0.5em 1em; border-left: 3px solid #4f9a45; padding-left: 0.5em; }
details.kl-solution > summary { cursor: pointer; font-family: var(--jp-ui-font-family); color: #2f6b27;
  font-weight: bold; padding: 0.3em 0; }
img.kl-diagram { max-width: 100%; height: auto; }
{{ resources.kl_lang_css }}
</style>{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}
<nav class="kl-nav">{{ resources.kl_nav }}</nav>
{%- endblock body_header -%}
{%- block any_cell -%}
{%- if 'kafkalab-folded' in cell.metadata.get('tags', []) -%}
<details class="kl-solution"><summary>{{ resources.kl_solution }}</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{%- endblock any_cell -%}
"""

# Where a page loads something from: src=, href= of <link>, url(...) and @import in CSS.
_ASSET_PATTERNS = (
    re.compile(r"<(?:script|img|iframe|source|audio|video|embed|track|input)\b[^>]*?\bsrc\s*=\s*"
               r"[\"']?([^\"'\s>]+)", re.I),
    re.compile(r"<link\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.I),
    re.compile(r"<object\b[^>]*?\bdata\s*=\s*[\"']?([^\"'\s>]+)", re.I),
    re.compile(r"url\(\s*[\"']?([^\"')\s]+)", re.I),
    re.compile(r"@import\s+[\"']([^\"']+)", re.I),
)  # fmt: skip
_OFFSITE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host, ftp:// …
_HEADING = re.compile(r'<h([1-6]) id="([^"]*)">(.*?)<a class="anchor-link" href="#([^"]*)">', re.S)
_LINK = re.compile(r'(\b(?:href|src)=")([^"#:?]+)((?:#[^"]*)?)"')


@dataclass
class Handout:
    """What build_handout made: the site's directory, its pages (index first) and any PDFs."""

    directory: Path
    pages: list[Path] = field(default_factory=list)
    pdfs: list[Path] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.directory / "index.html"


def is_folded(cell: dict) -> bool:
    """A solution: tagged `solution`, or with its source collapsed in JupyterLab (jupyter.source_hidden)."""
    meta = cell.get("metadata") or {}
    return SOLUTION_TAG in (meta.get("tags") or []) or bool((meta.get("jupyter") or {}).get("source_hidden"))


def offsite_assets(html: str) -> list[str]:
    """URLs of assets (scripts, styles, images, fonts) a page would load from another machine."""
    found = []
    for pattern in _ASSET_PATTERNS:
        found += [m.group(1) for m in pattern.finditer(html) if _OFFSITE.match(m.group(1))]
    return sorted(set(found))


def github_slug(text: str, seen: dict[str, int] | None = None) -> str:
    """The anchor GitHub gives a heading ("1. The operator is OOMKilled" → "1-the-operator-is-oomkilled"),
    so the links written for the docs on GitHub work in the handout too."""
    slug = re.sub(r"[^\w\- ]", "", re.sub(r"<[^>]+>", "", text).strip().lower()).replace(" ", "-")
    if seen is not None:
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        slug = f"{slug}-{n}" if n else slug
    return slug


def build_handout(
    run_dir: str | Path,
    output_dir: str | Path,
    docs_dir: str | Path | None = None,
    pdf: bool = False,
    chromium: str = "/usr/bin/chromium",
    lang: str | None = None,
) -> Handout:
    """Build the handout site from `run_dir` (a `kafkalab run` output) into `output_dir`.

    `output_dir` must be empty, missing, or an earlier handout (which is replaced). pdf=True also prints
    every page to `pdf/` with headless Chromium (Playwright driving `chromium`), solutions unfolded.
    `lang`: the pages' language; by default the run's edition (`kafkalab run --edition ja` → "ja"). A
    translated site takes each doc page from docs/<lang>/ where it is translated, else the English one.
    """
    run_dir, out = Path(run_dir), Path(output_dir)
    docs = Path(docs_dir) if docs_dir else ROOT / "docs"
    summary = _read_summary(run_dir)
    lang = lang or str(summary.get("edition") or "en")
    words = STRINGS.get(lang, STRINGS["en"])
    _prepare_output(out)
    exporter = _exporter(lang)

    notebooks = [r for r in summary["results"] if (run_dir / r["notebook"]).is_file()]
    docs_present = [name for name in DOC_PAGES if (docs / name).is_file()]
    doc_files = {name: _doc_file(docs, name, lang) for name in docs_present}
    doc_titles = {name: _doc_title(name, lang, doc_files[name].parent != docs) for name in docs_present}
    notebook_dir = ROOT / "notebooks" / lang if lang != "en" else ROOT / "notebooks"
    pages = {r["notebook"]: Path(r["notebook"]).stem + ".html" for r in notebooks}
    pages.update({name: Path(name).stem + ".html" for name in docs_present})
    order = ["index.html", *pages.values()]
    handout = Handout(out)

    def write(page: str, nb, source_dir: Path, fix_anchors: bool = False) -> None:
        nav = _nav(page, order, words)
        resources = {"kl_nav": nav, "kl_solution": words["solution"], "kl_lang_css": LANG_CSS}
        html, _ = exporter.from_notebook_node(nb, resources=resources)
        if fix_anchors:
            html = _github_anchors(html)
        html = _localize_links(html, pages, source_dir, out)
        (out / page).write_text(html, encoding="utf-8")
        handout.pages.append(out / page)

    titles = {}
    for r in notebooks:
        nb = _load_for_handout(run_dir / r["notebook"])
        titles[r["notebook"]] = _title(nb, Path(r["notebook"]).stem)
        nb.metadata["title"] = titles[r["notebook"]]
        write(pages[r["notebook"]], nb, notebook_dir)
    for name in docs_present:
        nb = _markdown_notebook(doc_files[name].read_text(encoding="utf-8"), doc_titles[name])
        write(pages[name], nb, doc_files[name].parent, fix_anchors=True)
    if (docs / DIAGRAM).is_file():
        shutil.copy2(docs / DIAGRAM, out / DIAGRAM)
    index = _markdown_notebook(
        _contents(summary, titles, pages, doc_titles, (docs / DIAGRAM).is_file(), words), ""
    )
    index.metadata["title"] = words["handout"]
    write("index.html", index, docs)
    handout.pages.insert(0, handout.pages.pop())  # the index first

    for page in handout.pages:
        bad = offsite_assets(page.read_text(encoding="utf-8"))
        if bad:
            raise KafkalabError(
                f"the handout page would load {len(bad)} asset(s) from another machine: {', '.join(bad[:5])}",
                obj=str(page),
                fix="remove the reference (an image from the web in a markdown cell, or a template block)",
            )
    if pdf:
        handout.pdfs = _print_pdfs(handout.pages, out / "pdf", chromium)
    return handout


def _read_summary(run_dir: Path) -> dict:
    path = run_dir / "summary.json"
    if not path.is_file():
        raise NotFound(
            f"{run_dir} is not the output of a kafkalab run (no summary.json)",
            obj=str(run_dir),
            fix="run the suite first (`make run`, `make hermetic-run` or `kafkalab run --output DIR`) and "
            "pass that DIR",
        )
    try:
        summary = json.loads(path.read_text())
        summary["results"] = [r for r in summary["results"] if r.get("notebook")]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise KafkalabError(
            f"cannot read the run summary ({type(e).__name__}: {e})",
            obj=str(path),
            fix="re-run the suite with `kafkalab run --output DIR`; the file is written by it",
        ) from e
    return summary


def _prepare_output(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise KafkalabError(
                "the output directory is not empty and is not an earlier handout",
                obj=str(out),
                fix="pass a new or empty directory with --output (a handout build replaces only its own)",
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by `kafkalab handout`; rebuilding replaces this directory\n")


def _doc_file(docs: Path, name: str, lang: str) -> Path:
    """docs/<lang>/<name> when that page is translated, else docs/<name>."""
    translated = docs / lang / name
    return translated if lang != "en" and translated.is_file() else docs / name


def _doc_title(name: str, lang: str, translated: bool) -> str:
    if lang == "en":
        return DOC_PAGES[name]
    if translated:
        return DOC_TITLES.get(lang, {}).get(name, DOC_PAGES[name])
    return DOC_TITLES.get(lang, {}).get(name, DOC_PAGES[name]) + ENGLISH_ONLY.get(lang, " (English)")


def _exporter(lang: str = "en"):
    try:
        import jinja2
        from nbconvert import HTMLExporter
    except ImportError as e:
        raise MissingTool("nbconvert", "pip install -e '.[handout]' (or `make handout`)") from e
    exporter = HTMLExporter(
        language_code=lang,  # <html lang="…">: fonts, hyphenation and screen readers follow it
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"kafkalab-handout.html.j2": TEMPLATE})],
        template_file="kafkalab-handout.html.j2",
    )
    return exporter


def _load_for_handout(path: Path):
    """The executed notebook, with what pages must not show removed and folded cells marked."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata = nbformat.from_dict(
        {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    )
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        if is_folded(cell):
            cell.metadata.setdefault("tags", []).append(FOLDED)
            # JupyterLab's collapsed-input flag would hide the source inside the <details> too
            cell.metadata.get("jupyter", {}).pop("source_hidden", None)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data and WIDGET_VIEW in data:  # a live widget: its text/plain stand-in is what a page can show
                del data[WIDGET_VIEW]
                data.setdefault("text/plain", "(a live widget in JupyterLab)")
    return nb


def _markdown_notebook(text: str, title: str):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text)]
    nb.metadata["title"] = title
    return nb


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return fallback


def _nav(page: str, order: list[str], words: dict | None = None) -> str:
    words = words or STRINGS["en"]
    i = order.index(page)
    contents = words["contents"]
    links = [f'<a href="index.html">{contents}</a>'] if page != "index.html" else [f"<span>{contents}</span>"]
    if i > 0:
        links.append(f'<a class="kl-prev" href="{order[i - 1]}">{words["previous"]}</a>')
    if i + 1 < len(order):
        links.append(f'<a class="kl-next" href="{order[i + 1]}">{words["next"]}</a>')
    return " ".join(links)


def _contents(
    summary: dict, titles: dict, pages: dict, docs: dict[str, str], diagram: bool, words: dict | None = None
) -> str:
    words = words or STRINGS["en"]
    verdict = words["all_passed"] if summary.get("ok") else words["not_all_passed"]
    lines = [
        f"# {words['title']}",
        "",
        words["intro"],
        "",
        "## " + words["notebooks"].format(verdict=verdict),
        "",
        words["table"],
        "|---|---|---:|",
    ]
    total = 0.0
    for r in summary["results"]:
        name = r["notebook"]
        label = f"[{_md_escape(titles[name])}]({pages[name]})" if name in titles else _md_escape(name)
        seconds = float(r.get("seconds") or 0)
        total += seconds
        status = words["status"].get(r.get("status"), r.get("status", "?"))
        status += f": {_md_escape(r['error'])}" if r.get("error") else ""
        lines.append(f"| {label} | {status} | {seconds:.0f} s |")
    lines += [f"| **{words['total']}** | | **{total:.0f} s** |", ""]
    if docs:
        lines += [f"## {words['reference']}", ""]
        lines += [f"- [{title}]({pages[name]})" for name, title in docs.items()]
        lines.append("")
    if diagram:
        lines += [
            f"## {words['pattern']}",
            "",
            words["pattern_text"],
            "",
            f'<img class="kl-diagram" src="{DIAGRAM}" alt="{words["diagram_alt"]}">',
            "",
        ]
    params = summary.get("parameters") or {}
    if params:
        lines += [f"## {words['parameters']}", "", "```"]
        lines += [f"{k} = {v!r}" for k, v in params.items()]
        lines += ["```", ""]
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _github_anchors(html: str) -> str:
    """Give headings GitHub's ids, so the docs' own `#1-the-operator-…` links land in the handout too."""
    seen: dict[str, int] = {}
    renames = {}

    def fix(m: re.Match) -> str:
        slug = github_slug(m.group(3), seen)
        renames[m.group(2)] = renames[unquote(m.group(2))] = slug
        return f'<h{m.group(1)} id="{slug}">{m.group(3)}<a class="anchor-link" href="#{slug}">'

    html = _HEADING.sub(fix, html)

    def link(m: re.Match) -> str:  # markdown renders a non-ASCII anchor percent-encoded: match it decoded
        anchor = renames.get(m.group(1)) or renames.get(unquote(m.group(1))) or unquote(m.group(1))
        return f'href="#{anchor}"'

    return re.sub(r'href="#([^"]*)"', link, html)


def _localize_links(html: str, pages: dict, source_dir: Path, out: Path) -> str:
    """Links to a notebook or doc in the site point at its page; to another local file, at a copy of it."""
    by_name = {Path(k).name: v for k, v in pages.items()}

    def fix(m: re.Match) -> str:
        attr, target, anchor = m.groups()
        name = Path(target).name
        if name in by_name:
            return f'{attr}{by_name[name]}{anchor}"'
        if name == DIAGRAM:  # the copy at the site's top (docs/ja/ links it as ../operator-pattern.svg)
            return f'{attr}{DIAGRAM}{anchor}"'
        if (out / target).is_file():
            return m.group(0)
        local = (source_dir / target).resolve()
        if local.is_file() and ROOT in local.parents:  # only the checkout's own files, never beyond it
            (out / "files").mkdir(exist_ok=True)
            shutil.copy2(local, out / "files" / name)
            return f'{attr}files/{name}{anchor}"'
        return m.group(0)

    return _LINK.sub(fix, html)


def _print_pdfs(pages: list[Path], directory: Path, chromium: str) -> list[Path]:
    """Each page as a PDF, printed by headless Chromium with the solutions unfolded."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise MissingTool(
            "playwright", "pip install -e '.[handout]' (the PDF uses Chromium through it)"
        ) from e
    if not Path(chromium).is_file():
        raise MissingTool(
            "chromium", "apt-get install chromium (Playwright is pointed at it; no browser download)"
        )
    directory.mkdir(exist_ok=True)
    made = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            # a PDF is offline by definition: nothing but the site's own files may be fetched
            page.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort(),
            )
            for html in pages:
                page.goto(html.resolve().as_uri())
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                target = directory / (html.stem + ".pdf")
                page.pdf(path=str(target), format="A4", print_background=True)
                made.append(target)
        finally:
            browser.close()
    return made
