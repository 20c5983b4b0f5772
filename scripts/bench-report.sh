#!/usr/bin/env bash
# Benchmark: time and peak memory of `shinpan report` on N synthetic pairwise games (default
# 1,000,000) with 1000 bootstrap rounds, with the models' answer files beside them so that
# length control and style control (Bradley-Terry with length and Markdown covariates) run. With --fastchat, also times FastChat's
# show_result.py (from the `fschat` package, with pandas 2.0.3 in a throw-away venv) on the
# same file. Targets (for 1,000,000 games): under 2 s wall and 300 MB peak each; a miss exits 1.
# Usage: scripts/bench-report.sh [N] [--fastchat]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
python3 scripts/gen-pairwise.py "$n" "$work/data/pair.jsonl"
python3 scripts/gen-answers.py "$work/data/model_answer"
cargo build --release --quiet
echo "$n games, $(du -h "$work/data/pair.jsonl" | cut -f1), with 10 models' answers to 80 questions"
missed=""
for mode in pairwise-all pairwise-baseline; do
  extra=""; [ "$mode" = pairwise-baseline ] && extra="--baseline model-0"
  /usr/bin/time -o "$work/time" -f "%e %M" \
    ./target/release/shinpan report "$work/data" --format json --mode "$mode" $extra \
    --bootstrap 1000 > "$work/out.json"
  read -r wall kb < "$work/time"
  echo "shinpan report --mode $mode --bootstrap 1000: $wall s wall, $kb KB peak ($((kb / 1024)) MB)"
  # The targets are for a million games; smaller runs are only reported.
  if [ "$n" -ge 1000000 ]; then
    awk -v w="$wall" 'BEGIN { exit !(w > 2.0) }' && missed="$missed $mode: $wall s (target under 2 s);"
    [ "$kb" -ge $((300 * 1024)) ] && missed="$missed $mode: $((kb / 1024)) MB (target under 300 MB);"
  fi
done
if [ "${2:-}" = --fastchat ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q pandas==2.0.3 numpy==1.26.4
  "$work/venv/bin/pip" download -q --no-deps fschat==0.2.36 -d "$work/fschat"
  python3 -m zipfile -e "$work"/fschat/*.whl "$work/fs"
  (cd "$work/fs/fastchat/llm_judge" && /usr/bin/time -f "FastChat show_result.py --mode pairwise-all: %e s wall, %M KB peak" \
    "$work/venv/bin/python" show_result.py --mode pairwise-all --input-file "$work/data/pair.jsonl" > /dev/null)
fi
if [ -n "$missed" ]; then
  echo "MISSED:$missed" >&2
  exit 1
fi
