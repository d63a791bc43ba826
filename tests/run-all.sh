#!/usr/bin/env bash
# `make test`: what CI runs, in order, failing fast, and always taking the hermetic cluster down again.
#   1. lint (ruff, actionlint on the workflow)   2. unit tests (no cluster; the wheel built and run)
#   3. hermetic cluster up (cached builds; Strimzi's YAML from ../shared where it exists, else the cached release)
#   4. hermetic tests (real API server, real brokers), among them the notebook suite: `kafkalab run` once
#      with its checked outputs compared as nbval does, the secret scan on it, the suite again in the Japanese
#      edition, teardown twice (test_rerun.py; executed notebooks, summary.md, junit.xml in out/hermetic, -ja)
#   5. browser tests (Debian's chromium via Playwright): JupyterLab opens and saves the notebooks unchanged;
#      the handout site built from out/hermetic loads cleanly offline      6. hermetic cluster down
# The notebooks are executed by test_rerun.py only: tests/notebooks/run.sh (papermill + nbval) stays for
# checking your own cluster by hand, and kafkalab.checked is tested to give nbval's verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
CACHE=${KAFKALAB_CACHE:-$HOME/.cache/kafkalab}
step() { printf '\n==> %s  [%s]\n' "$*" "$(date +%T)"; }

for tool in go java mvn; do
  command -v "$tool" >/dev/null || { echo "make test: '$tool' is not installed — the hermetic cluster builds from Go modules and Maven jars; install Go 1.26+, a JDK 17+ and Maven" >&2; exit 1; }
done

step "actionlint (built once from the Go module proxy into $CACHE/bin)"
ACTIONLINT_VERSION=v1.7.12
if [ ! -x "$CACHE/bin/actionlint-$ACTIONLINT_VERSION" ]; then
  mkdir -p "$CACHE/bin"
  GOBIN="$CACHE/bin" CGO_ENABLED=0 go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  mv "$CACHE/bin/actionlint" "$CACHE/bin/actionlint-$ACTIONLINT_VERSION"
fi
ln -sf "actionlint-$ACTIONLINT_VERSION" "$CACHE/bin/actionlint"
export PATH="$CACHE/bin:$PATH"

step "lint"
.venv/bin/ruff check kafkalab tests bench
actionlint .github/workflows/*.yml

step "unit tests"
$PY -m pytest -q tests/unit

step "hermetic cluster up"
trap 'step "hermetic cluster down"; bash tests/hermetic/down.sh' EXIT
bash tests/hermetic/up.sh
# shellcheck disable=SC1091
. "${KAFKALAB_HERMETIC_DIR:-/tmp/kafkalab-hermetic}/env"

step "hermetic tests (library, stand-in, brokers, faults, bad inputs; the notebook suite twice with its checked outputs and secret scan)"
rm -rf out/hermetic out/hermetic-ja
KAFKALAB_RERUN_TEST=1 KAFKALAB_SUITE_OUT=out/hermetic $PY -m pytest -q --durations=15 tests/hermetic

step "browser: JupyterLab and the handout sites (built from out/hermetic and out/hermetic-ja, the runs above) in headless chromium"
KAFKALAB_HANDOUT_RUN=out/hermetic KAFKALAB_HANDOUT_RUN_JA=out/hermetic-ja bash tests/browser/run.sh
