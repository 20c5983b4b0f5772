#!/usr/bin/env bash
# Size and browser load time of the HTML report, and the size of the review export, for a run
# of 10 models × 80 two-turn questions (Japanese MT-bench), judged single and
# pairwise-baseline.
#
# The answers are real: the 9 models' published answers in ../shared/datasets (gpt-4o's twice,
# under a second name, to make 10). The verdicts come from `shinpan simulate`, whose
# explanations are short, so each explanation is then replaced by a real GPT-4 explanation
# from the published judgments (cycled) and the page rebuilt: the sizes are those of real
# text. Needs chromium (`apt-get install chromium fonts-ipafont-gothic`). Targets: the page
# under 8 MB, loaded (its script run) in under 2 s; a miss exits 1.
#
#   bash scripts/bench-html.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/datasets/japanese_mt_bench
WORK=${1:-$(mktemp -d)}
RUN=$WORK/run
cargo build --release -q
BIN=$PWD/target/release/shinpan
rm -rf "$RUN" && mkdir -p "$RUN/answers"
cp "$DATA"/model_answer/*.jsonl "$RUN/answers/"
python3 - "$DATA" "$RUN" <<'EOF'
import json, sys
data, run = sys.argv[1:]
with open(f"{run}/answers/gpt-4o-second.jsonl", "w") as out:
    for line in open(f"{data}/model_answer/gpt-4o.jsonl"):
        r = json.loads(line)
        r["model_id"] = "gpt-4o-second"
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
EOF
MODELS=$(ls "$RUN/answers" | sed 's/\.jsonl$//' | paste -sd, -)
PORT=18599
"$BIN" simulate --port $PORT --seed 3 >/dev/null 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
sleep 1
for mode in single pairwise-baseline; do
    "$BIN" run --models "$MODELS" --judge gpt-4 --mode $mode --baseline gpt-4 \
        --questions "$DATA/question_full.jsonl" --out "$RUN" \
        --base-url http://127.0.0.1:$PORT/v1 --api-key-env "" --rpm 100000 --concurrency 64 \
        --no-cache -q >/dev/null
done
python3 - "$DATA" "$RUN" <<'EOF'
import itertools, json, sys
data, run = sys.argv[1:]
real = itertools.cycle([json.loads(l)["judgment"] for l in open(f"{data}/model_judgment/gpt-4_single.jsonl")])
for name, fields in [("gpt-4_single", ["judgment"]), ("gpt-4_pair", ["g1_judgment", "g2_judgment"])]:
    path = f"{run}/judgments/{name}.jsonl"
    rows = [json.loads(l) for l in open(path)]
    for r in rows:
        for f in fields:
            r[f] = next(real)
    with open(path, "w") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
EOF
"$BIN" report "$RUN" --format html > "$RUN/report.html"
"$BIN" export "$RUN" --out "$WORK/review.jsonl"
"$BIN" export "$RUN" --format md --out "$WORK/review.md"
"$BIN" export "$RUN" --format csv --out "$WORK/review.csv"
chrome() {
    chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --disable-background-networking --no-first-run --user-data-dir="$WORK/profile" \
        --dump-dom "$1" 2>/dev/null
}
chrome about:blank >/dev/null
seconds() {
    local best=999
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        chrome "$1" >/dev/null
        t1=$(date +%s.%N)
        best=$(python3 -c "print(min($best, $t1 - $t0))")
    done
    printf '%.2f' "$best"
}
blank=$(seconds about:blank)
page=$(seconds "file://$RUN/report.html")
ready=$(chrome "file://$RUN/report.html" | grep -c 'data-script="ready"' || true)
echo "items: $(wc -l < "$WORK/review.jsonl") (single grades and pairwise games)"
echo "report.html: $(stat -c %s "$RUN/report.html") bytes"
echo "review export: jsonl $(stat -c %s "$WORK/review.jsonl") B, md $(stat -c %s "$WORK/review.md") B, csv $(stat -c %s "$WORK/review.csv") B"
echo "chromium --dump-dom (best of 3): about:blank ${blank} s, report.html ${page} s (script ran: $ready)"
size=$(stat -c %s "$RUN/report.html")
missed=""
[ "$ready" = 1 ] || missed="$missed the page's script did not run;"
[ "$size" -lt $((8 * 1024 * 1024)) ] || missed="$missed report.html is $size bytes (target under 8 MB);"
awk -v t="$page" 'BEGIN { exit !(t >= 2.0) }' && missed="$missed load $page s (target under 2 s);"
if [ -n "$missed" ]; then
  echo "MISSED:$missed" >&2
  exit 1
fi
