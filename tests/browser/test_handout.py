"""The handout site in a real browser: Debian's headless Chromium driven by Playwright, served on 127.0.0.1.

Every page loads with no console error, no failed or missing asset, and no request leaving 127.0.0.1 (each
one is routed: loopback goes through, anything else is blocked and fails the test); solutions are folded
and open on click. Screenshots land in out/browser/ for a person to look at.

The site is built from a real executed run of the suite:
- KAFKALAB_HANDOUT_RUN=DIR uses an existing run (what `kafkalab run --output DIR` wrote), e.g. out/kind;
- otherwise notebooks 00, 03 and 04 are executed here on the hermetic cluster of $KAFKALAB_HERMETIC_DIR
  (default /tmp/kafkalab-hermetic; `make hermetic-up` first), about a minute.
Skipped, with the reason, when Playwright or Chromium is missing or there is neither a run nor a cluster.
Playwright never downloads a browser here: it is pointed at /usr/bin/chromium ($KAFKALAB_CHROMIUM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
pytest.importorskip("nbconvert", reason="nbconvert is not installed (pip install -e '.[handout]')")


from kafkalab import handout  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import offline  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = offline.CHROMIUM
SCREENSHOTS = ROOT / "out" / "browser"
RUN_NOTEBOOKS = ("00", "03", "04")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """An executed run of the suite: $KAFKALAB_HANDOUT_RUN, or 00/03/04 run now on the hermetic cluster."""
    given = os.environ.get("KAFKALAB_HANDOUT_RUN")
    if given:
        if not (Path(given) / "summary.json").is_file():
            pytest.fail(f"KAFKALAB_HANDOUT_RUN={given} has no summary.json: not a `kafkalab run` output")
        return Path(given)
    env_file = Path(os.environ.get("KAFKALAB_HERMETIC_DIR", "/tmp/kafkalab-hermetic")) / "env"
    if not env_file.is_file():
        pytest.skip(f"no run to build from: set KAFKALAB_HANDOUT_RUN=DIR, or `make hermetic-up` ({env_file})")
    out = tmp_path_factory.mktemp("run")
    cmd = [sys.executable, "-m", "kafkalab.cli", "run", "--hermetic", "--output", str(out)]
    for n in RUN_NOTEBOOKS:
        cmd += ["-n", n]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"the suite run failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.fixture(scope="session")
def site(run_dir, tmp_path_factory) -> Path:
    made = handout.build_handout(run_dir, tmp_path_factory.mktemp("site") / "handout")
    return made.directory


@pytest.fixture(scope="session")
def solution_run(tmp_path_factory) -> Path:
    """A one-notebook run with an exercise whose solution is folded, whatever the real run holds."""
    import nbformat

    run = tmp_path_factory.mktemp("solution-run")
    nb = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell("print(6 * 7)")
    solution.metadata["tags"] = ["solution"]
    solution.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# 01 · Exercise\n\nWhat is six times seven?"), solution]
    nbformat.write(nb, run / "01-exercise.ipynb")
    results = [{"notebook": "01-exercise.ipynb", "status": "passed", "seconds": 1.0, "error": ""}]
    (run / "summary.json").write_text(json.dumps({"ok": True, "parameters": {}, "results": results}))
    return run


@pytest.fixture(scope="session")
def solution_site(solution_run, tmp_path_factory) -> Path:
    return handout.build_handout(solution_run, tmp_path_factory.mktemp("solution-site") / "handout").directory


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """A Chromium context with a fresh profile; every request not to 127.0.0.1 is blocked and recorded."""
    with offline.chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def visit(context, url: str) -> tuple[object, list[str]]:
    """Open url in a new tab; return the tab and every problem seen while it loaded."""
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    broken_images = page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    problems += [f"image did not load: {src}" for src in broken_images]
    return page, problems


def test_every_page_loads_clean_and_offline(run_dir, site, browser_context):
    """Every page of the site built from a real run, as the reader's browser sees it."""
    base, server = offline.serve(site)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        pages = sorted(p.name for p in site.glob("*.html"))
        executed = [r for r in json.loads((run_dir / "summary.json").read_text())["results"]
                    if (run_dir / r["notebook"]).is_file()]  # fmt: skip
        assert len(pages) == 1 + len(executed) + len(handout.DOC_PAGES), pages  # index, notebooks, docs
        for name in pages:
            page, problems = visit(browser_context, base + name)
            assert problems == [], f"{name}: {problems}"
            # links inside the site lead to pages that exist, anchors to ids on the page
            hrefs = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
            for href in hrefs:
                target, _, anchor = href.partition("#")
                if urlsplit(href).scheme or href.startswith("//"):
                    continue  # a link out is for the reader to follow, not loaded by the page
                if target:
                    assert (site / target).is_file(), f"{name}: link to missing {target}"
                elif anchor:
                    assert page.locator(f'[id="{anchor}"]').count() == 1, f"{name}: no #{anchor}"
            page.screenshot(path=str(SCREENSHOTS / f"handout-{Path(name).stem}.png"), full_page=True)
            open_folds(page, name)  # the run's own exercises, if its notebooks have any
            page.close()
        index, _ = visit(browser_context, base + "index.html")
        assert index.locator("table a").count() == len(executed)  # the timing table links each one
        assert index.locator("img.kl-diagram").evaluate("i => i.naturalWidth") > 0
        index.close()
    finally:
        server.shutdown()
    assert browser_context.blocked == [], f"requests off 127.0.0.1: {browser_context.blocked}"


def open_folds(page, name: str) -> int:
    """Check every folded solution on the page is closed, then opens on a click; return how many."""
    folds = page.locator("details.kl-solution")
    for i in range(folds.count()):
        fold = folds.nth(i)
        body = fold.locator(".jp-Cell").first
        assert fold.get_attribute("open") is None and not body.is_visible(), f"{name}: solution {i} shown"
        fold.locator("summary").click()
        assert fold.get_attribute("open") is not None and body.is_visible(), (
            f"{name}: solution {i} stays shut"
        )
    return folds.count()


def test_solutions_are_folded_and_open_on_click(solution_site, browser_context):
    base, server = offline.serve(solution_site)
    try:
        page, problems = visit(browser_context, base + "01-exercise.html")
        assert problems == []
        answer = page.get_by_text("42", exact=True)
        assert not answer.is_visible()
        assert open_folds(page, "01-exercise.html") == 1
        assert answer.is_visible()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "handout-solution-open.png"), full_page=True)
        page.close()
    finally:
        server.shutdown()
    assert browser_context.blocked == [], f"requests off 127.0.0.1: {browser_context.blocked}"


def test_pdf_of_every_page(solution_run, tmp_path):
    """`kafkalab handout --pdf` prints each page with the same Chromium, nothing fetched off the machine.

    A subprocess: Playwright's sync API cannot start a second time in this thread while the session's
    browser runs."""
    out = tmp_path / "handout"
    cmd = [sys.executable, "-m", "kafkalab.cli", "handout", str(solution_run), "--output", str(out), "--pdf"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = sorted(p.stem for p in out.glob("*.html"))
    pdfs = sorted(out.glob("pdf/*.pdf"))
    assert [p.stem for p in pdfs] == pages and "index" in pages
    for pdf in pdfs:
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-") and b"/Type /Page" in data, pdf.name
