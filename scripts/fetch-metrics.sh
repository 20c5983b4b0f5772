#!/usr/bin/env bash
# Installs the Python reference implementations of llm-jp-eval's metrics in a virtual
# environment, so tests can check shinpan's metrics against them: fuzzywuzzy with
# python-Levenshtein (as Nejumi pins them), scipy, and sacrebleu 2.3.3 (Nejumi 3's pin) with
# mecab-python3 and ipadic (sacrebleu's `ja` extra). `$DIR/ipadic` links to the ipadic
# package's dictionary, the one sacrebleu's ja-mecab accepts, for shinpan's bleu_ja
# (SHINPAN_MECAB_DIC). The directory is $SHINPAN_METRICS_DIR, else ~/.cache/shinpan/metrics.
# Idempotent.
set -euo pipefail
DIR="${SHINPAN_METRICS_DIR:-$HOME/.cache/shinpan/metrics}"
mkdir -p "$DIR"
if [ ! -x "$DIR/venv/bin/python" ] || ! "$DIR/venv/bin/python" -c "import fuzzywuzzy, Levenshtein, scipy, sacrebleu, MeCab, ipadic" 2>/dev/null; then
  echo "fetch-metrics: installing fuzzywuzzy, python-Levenshtein, scipy, sacrebleu, mecab-python3 and ipadic into $DIR/venv" >&2
  rm -rf "$DIR/venv"
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install -q --disable-pip-version-check \
    "fuzzywuzzy==0.18.0" "python-Levenshtein==0.27.5" "scipy==1.11.4" "numpy==1.26.4" \
    "sacrebleu==2.3.3" "mecab-python3==1.0.6" "ipadic==1.0.0"
fi
ln -sfn "$("$DIR/venv/bin/python" -c 'import ipadic; print(ipadic.DICDIR)')" "$DIR/ipadic"
echo "$DIR"
