#!/usr/bin/env bash
# Benchmark: time and peak memory of `shinpan report` on N synthetic pairwise games (default
# 1,000,000) with 1000 bootstrap rounds. With --fastchat, also times FastChat's
# show_result.py (from the `fschat` package, with pandas 2.0.3 in a throw-away venv) on the
# same file. Usage: scripts/bench-report.sh [N] [--fastchat]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/gen-pairwise.py "$n" "$work/pair.jsonl"
cargo build --release --quiet
echo "$n games, $(du -h "$work/pair.jsonl" | cut -f1)"
for mode in pairwise-all pairwise-baseline; do
  extra=""; [ "$mode" = pairwise-baseline ] && extra="--baseline model-0"
  /usr/bin/time -f "shinpan report --mode $mode --bootstrap 1000: %e s wall, %M KB peak" \
    ./target/release/shinpan report "$work/pair.jsonl" --format json --mode "$mode" $extra \
    --bootstrap 1000 > "$work/out.json"
done
if [ "${2:-}" = --fastchat ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q pandas==2.0.3 numpy==1.26.4
  "$work/venv/bin/pip" download -q --no-deps fschat==0.2.36 -d "$work/fschat"
  python3 -m zipfile -e "$work"/fschat/*.whl "$work/fs"
  (cd "$work/fs/fastchat/llm_judge" && /usr/bin/time -f "FastChat show_result.py --mode pairwise-all: %e s wall, %M KB peak" \
    "$work/venv/bin/python" show_result.py --mode pairwise-all --input-file "$work/pair.jsonl" > /dev/null)
fi
