#!/usr/bin/env bash
# `make test`: what CI runs, in order, failing fast, and always taking the hermetic cluster down again.
#   1. lint (ruff, actionlint on the workflow)   2. unit tests (no cluster)
#   3. hermetic cluster up (cached builds)       4. hermetic tests (real API server, real brokers, reruns)
#   5. every notebook: papermill --prepare-only + pytest --nbval-lax     6. hermetic cluster down
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

step "hermetic tests (library, stand-in, brokers, faults, bad inputs, every notebook twice, secret scan)"
KAFKALAB_RERUN_TEST=1 $PY -m pytest -q tests/hermetic

step "browser: JupyterLab in headless chromium (notebook 03 live and after a restart, clean open and save)"
bash tests/browser/run.sh

step "notebooks (papermill + nbval, hermetic parameters)"
bash tests/notebooks/run.sh hermetic out/hermetic
