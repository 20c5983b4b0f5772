#!/usr/bin/env bash
# Installs the Python reference implementations of llm-jp-eval's metrics (fuzzywuzzy with
# python-Levenshtein, as Nejumi pins them, and scipy) in a virtual environment, so a test can
# check shinpan's metrics against them. The directory is $SHINPAN_METRICS_DIR, else
# ~/.cache/shinpan/metrics. Idempotent.
set -euo pipefail
DIR="${SHINPAN_METRICS_DIR:-$HOME/.cache/shinpan/metrics}"
mkdir -p "$DIR"
if [ ! -x "$DIR/venv/bin/python" ] || ! "$DIR/venv/bin/python" -c "import fuzzywuzzy, Levenshtein, scipy" 2>/dev/null; then
  echo "fetch-metrics: installing fuzzywuzzy, python-Levenshtein and scipy into $DIR/venv" >&2
  rm -rf "$DIR/venv"
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install -q --disable-pip-version-check \
    "fuzzywuzzy==0.18.0" "python-Levenshtein==0.27.5" "scipy==1.11.4" "numpy==1.26.4"
fi
echo "$DIR"
