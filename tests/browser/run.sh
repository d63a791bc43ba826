#!/usr/bin/env bash
# The browser tests (tests/browser): JupyterLab in headless Chromium against the hermetic cluster.
# Brings what they need: Debian's chromium and fonts-noto-cjk (Japanese pages) via apt when running as root (CI),
# JupyterLab and Playwright in .venv (never `playwright install`: the page is driven through /usr/bin/chromium).
# Elsewhere, without chromium, pytest skips them and says how to get it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "browser tests: installing Debian's chromium (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# Japanese pages (the ja edition's handout, test_japanese.py) need a CJK font, or kanji render as tofu boxes.
if ! fc-list :lang=ja 2>/dev/null | grep -q . && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "browser tests: installing Debian's fonts-noto-cjk (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null
fi
"$PY" -c 'import jupyterlab, playwright' 2>/dev/null || "$PY" -m pip install -q -e "$ROOT[browser]"
# One pytest process per file: each drives Playwright's sync API, which refuses to start inside the event loop
# another module's Playwright left in the same process.
rc=0
for t in "$ROOT"/tests/browser/test_*.py; do
  "$PY" -m pytest -q -rs "$t" "$@" || rc=$?
done
exit $rc
