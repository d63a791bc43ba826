#!/usr/bin/env bash
# Run the teaching notebooks as regression tests: papermill injects the tier's parameters (--prepare-only keeps
# the stored outputs of the `# NBVAL_CHECK_OUTPUT` cells), then nbval executes every notebook in a fresh kernel
# and compares only those checked cells, after the sanitize file has masked what may vary.
#
# usage: tests/notebooks/run.sh [TIER] [OUT] [--record] [-p NAME VALUE]... [NOTEBOOK.ipynb...]
#   TIER            hermetic | kind (tests/notebooks/<tier>.yaml) or a parameter file *.yaml; also --params FILE
#                   (default $KAFKALAB_NB_PARAMS or tests/notebooks/hermetic.yaml)
#   OUT             where the prepared notebooks go; also --out DIR (default $KAFKALAB_NB_OUT or out/notebooks)
#   --record        execute with papermill instead and write the outputs of the checked cells back into
#                   notebooks/ (tests/notebooks/record.py); for maintainers after changing a notebook
#   -p NAME VALUE   one more parameter (YAML value), after the file's
#   NOTEBOOK        notebook paths (default: every notebooks/[0-9]*.ipynb, in order)
# env: KAFKALAB_STRIMZI_SOURCE (strimzi_source override; a path becomes absolute), KUBECONFIG,
#      KAFKALAB_HERMETIC_DIR (its `env` file is sourced when KUBECONFIG is unset), PY (python, default .venv),
#      NBVAL_CELL_TIMEOUT (seconds per cell, default 1200), PYTEST_ARGS (extra pytest arguments).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
PARAMS="${KAFKALAB_NB_PARAMS:-$ROOT/tests/notebooks/hermetic.yaml}"
OUT="${KAFKALAB_NB_OUT:-$ROOT/out/notebooks}"
RECORD=0
EXTRA=()
NOTEBOOKS=()

while [ $# -gt 0 ]; do
    case "$1" in
        --params) PARAMS="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --record) RECORD=1; shift ;;
        -p) EXTRA+=("$2" "$3"); shift 3 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *.ipynb) NOTEBOOKS+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift ;;
        hermetic|kind) PARAMS="$ROOT/tests/notebooks/$1.yaml"; shift ;;
        *.yaml|*.yml) PARAMS="$1"; shift ;;
        *) OUT="$1"; shift ;;
    esac
done

if [ ${#NOTEBOOKS[@]} -eq 0 ]; then
    # Sorted by number: 00 first, 99 (teardown) last; each notebook runs in its own kernel.
    for nb in "$ROOT"/notebooks/[0-9]*.ipynb; do NOTEBOOKS+=("$nb"); done
fi
[ ${#NOTEBOOKS[@]} -gt 0 ] && [ -f "${NOTEBOOKS[0]}" ] || { echo "run.sh: no notebooks found (${NOTEBOOKS[*]:-none})" >&2; exit 2; }
[ -f "$PARAMS" ] || { echo "run.sh: parameter file $PARAMS not found" >&2; exit 2; }

# The hermetic tier writes a sourceable env file (KUBECONFIG, KAFKALAB_STRIMZI_SOURCE); use it unless the caller
# already chose a cluster.
HERMETIC_ENV="${KAFKALAB_HERMETIC_DIR:-/tmp/kafkalab-hermetic}/env"
if [ -z "${KUBECONFIG:-}" ] && [ "$(basename "$PARAMS")" = "hermetic.yaml" ] && [ -f "$HERMETIC_ENV" ]; then
    set -a; . "$HERMETIC_ENV"; set +a
fi

mkdir -p "$OUT"
RESOLVED="$OUT/parameters.yaml"

# Resolve the parameter file into $OUT/parameters.yaml: -p overrides, $KAFKALAB_STRIMZI_SOURCE, and a relative
# strimzi_source path made absolute against the repo root (the kernels run with $OUT as their cwd).
"$PY" - "$PARAMS" "$RESOLVED" "$ROOT" "${EXTRA[@]+"${EXTRA[@]}"}" <<'EOF'
import os, sys, yaml

src, dst, root, *extra = sys.argv[1:]
with open(src) as f:
    params = yaml.safe_load(f) or {}
for name, value in zip(extra[::2], extra[1::2]):
    params[name] = yaml.safe_load(value)
if os.environ.get("KAFKALAB_STRIMZI_SOURCE"):
    params["strimzi_source"] = os.environ["KAFKALAB_STRIMZI_SOURCE"]
source = params.get("strimzi_source")
if isinstance(source, str) and "://" not in source:
    path = os.path.realpath(os.path.join(root, os.path.expanduser(source)))
    if not os.path.exists(path):
        sys.exit(f"run.sh: strimzi_source {path} does not exist\n  fix: set KAFKALAB_STRIMZI_SOURCE to the "
                 "Strimzi install dir (install/cluster-operator) or its release YAML")
    params["strimzi_source"] = path
with open(dst, "w") as f:
    yaml.safe_dump(params, f, sort_keys=False)
EOF
echo "run.sh: parameters ($RESOLVED):" >&2
sed 's/^/  /' "$RESOLVED" >&2
echo "run.sh: KUBECONFIG=${KUBECONFIG:-<unset>}" >&2

if [ "$RECORD" = 1 ]; then
    exec "$PY" "$ROOT/tests/notebooks/record.py" --params "$RESOLVED" --out "$OUT" "${NOTEBOOKS[@]}"
fi

PREPARED=()
for nb in "${NOTEBOOKS[@]}"; do
    out_nb="$OUT/$(basename "$nb")"
    # --prepare-only: inject parameters and keep the stored outputs, execute nothing.
    "$PY" -m papermill --prepare-only --log-level WARNING -f "$RESOLVED" "$nb" "$out_nb"
    PREPARED+=("$out_nb")
done

# nbval starts each kernel in $OUT; --nbval-current-env: this venv's python, whatever the stored kernelspec says.
# shellcheck disable=SC2086
exec "$PY" -m pytest -p no:cacheprovider --rootdir "$ROOT" -c /dev/null -v --nbval-current-env \
    --nbval-lax --nbval-sanitize-with "$ROOT/tests/notebooks/sanitize.cfg" \
    --nbval-cell-timeout "${NBVAL_CELL_TIMEOUT:-1200}" ${PYTEST_ARGS:-} "${PREPARED[@]}"
