"""The Japanese edition's handout in a real browser: Japanese renders with a real CJK font, not tofu.

The site is built from a Japanese run: $KAFKALAB_HANDOUT_RUN_JA (what `kafkalab run --edition ja --output
DIR` wrote), else the committed notebooks/ja/00 and 03 with their stored outputs as a run (no cluster needed:
the page's text is what is checked). It is served on 127.0.0.1 to Debian's headless Chromium (Playwright, no
browser download) and, on the page of notebook 00:
- the page says `<html lang="ja">`, and its heading and prose are Japanese;
- Chromium itself reports (DevTools `CSS.getPlatformFontsForNode`) which font drew the heading's glyphs: a
  CJK font (Noto Sans CJK JP from Debian's fonts-noto-cjk here; Hiragino / Yu Gothic on a reader's Mac or PC);
- drawn in the page's own font, two different kanji give two different images, and neither is the box a
  missing glyph gives (tofu all looks the same);
- nothing is requested from another machine, and there is no console error.
Screenshots land in out/browser/ (handout-ja-*.png). tests/browser/run.sh installs fonts-noto-cjk with apt
when it is missing, as it does chromium.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e '.[test]')")
pytest.importorskip("nbconvert", reason="nbconvert is not installed (pip install -e '.[handout]')")


from kafkalab import handout  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import offline  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = offline.CHROMIUM
SCREENSHOTS = ROOT / "out" / "browser"
NOTEBOOKS = ("00-prerequisites.ipynb", "03-kafka-cluster.ipynb")
CJK_FAMILIES = ("CJK", "Noto Sans JP", "Source Han", "Hiragino", "Yu Gothic", "Meiryo", "IPA", "TakaoP")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)

# Draws text in the given CSS font on a canvas and returns its pixels, for two kanji and a code point no font
# has (U+10FFFD, private use): a missing glyph is drawn as the same box whatever the character.
GLYPHS = """(font) => {
  const c = document.createElement('canvas');
  c.width = 96; c.height = 96;
  const g = c.getContext('2d');
  const draw = (t) => {
    g.clearRect(0, 0, 96, 96);
    g.font = font;
    g.fillStyle = '#000';
    g.fillText(t, 8, 72);
    return Array.from(g.getImageData(0, 0, 96, 96).data).join(',');
  };
  const a = draw('前'), b = draw('提'), missing = draw(String.fromCodePoint(0x10FFFD));
  return {differ: a !== b, notMissing: a !== missing && b !== missing, blank: !/[1-9]/.test(a)};
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("KAFKALAB_HANDOUT_RUN_JA")
    if given:
        run = Path(given)
        assert (run / "summary.json").is_file(), f"{given} is not a `kafkalab run` output"
    else:
        run = tmp_path_factory.mktemp("ja-run")
        results = []
        for name in NOTEBOOKS:
            shutil.copy2(ROOT / "notebooks" / "ja" / name, run / name)
            results.append({"notebook": name, "status": "passed", "seconds": 1.0, "error": ""})
        summary = {"ok": True, "edition": "ja", "parameters": {}, "results": results}
        (run / "summary.json").write_text(json.dumps(summary))
    return handout.build_handout(run, tmp_path_factory.mktemp("ja-site") / "handout").directory


def platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium drew the text of the first element matching selector with (DevTools CSS domain)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        assert node, f"no element {selector}"
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


def test_japanese_renders_with_a_cjk_font(site, tmp_path):
    base, server = offline.serve(site)
    problems: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with offline.chromium(tmp_path / "profile") as context:
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            for name in ("index", "00-prerequisites"):
                response = page.goto(base + f"{name}.html", wait_until="load")
                assert response is not None and response.ok, name
                page.evaluate("document.fonts.ready")
                page.screenshot(path=str(SCREENSHOTS / f"handout-ja-{name}.png"), full_page=True)
                assert page.evaluate("document.documentElement.lang") == "ja", name
            assert "前提条件と全体像" in page.locator("h1").first.inner_text()
            assert "オペレーター" in page.locator("main").inner_text()

            fonts = platform_fonts(page, "h1")
            used = [f["familyName"] for f in fonts if f.get("glyphCount", 0) > 0]
            assert any(any(k in family for k in CJK_FAMILIES) for family in used), (
                f"the Japanese heading is drawn with {used}, no CJK font: install one "
                "(Debian: apt-get install fonts-noto-cjk; tests/browser/run.sh does)"
            )
            font = page.evaluate("getComputedStyle(document.querySelector('h1')).font")
            glyphs = page.evaluate(GLYPHS, font)
            assert not glyphs["blank"], f"nothing drawn for a kanji in {font}"
            assert glyphs["differ"] and glyphs["notMissing"], (
                f"kanji drawn as tofu (the missing-glyph box) in {font}: {glyphs}"
            )
            page.locator("h1").first.screenshot(path=str(SCREENSHOTS / "handout-ja-heading.png"))
            blocked = context.blocked
    finally:
        server.shutdown()
    assert problems == [], f"console errors: {problems}"
    assert blocked == [], f"requests off 127.0.0.1: {blocked}"
