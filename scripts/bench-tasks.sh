#!/usr/bin/env bash
# Benchmark: time and peak memory of scoring N llm-jp-eval task samples (default 10,000) by
# rule, with 1000 bootstrap rounds: a task run is answered once by shinpan's simulator, then
# its judgments are removed and the same command run again, which asks nothing (the answers
# are kept) and only scores, aggregates and reports. The samples are split over four tasks
# like JGLUE's (exact_match; char_f1 on JSQuAD-length passages; pearson and spearman); with
# BLEU=1 over six, adding the translation tasks (bleu_ja through MeCab, which needs
# SHINPAN_MECAB_DIC as the README says; bleu_en).
# Usage: [BLEU=1] scripts/bench-tasks.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
work=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
python3 - "$n" "$work/evaluation" <<'PY'
import json, os, sys
n, root = int(sys.argv[1]), sys.argv[2]
tasks = {
    "jnli": (["exact_match"], 3, lambda i: ("前提：犬が公園を走っている。\n仮説：動物が外にいる。", ["entailment", "neutral", "contradiction"][i % 3])),
    "jcommonsenseqa": (["exact_match"], 1, lambda i: ("質問：主に子ども向けの物語は？\n選択肢：0.世界,1.写真集,2.絵本,3.論文,4.図鑑", str(i % 5))),
    "jsquad": (["char_f1"], 25, lambda i: ("文章：" + "梅雨は東アジアの広範囲でみられる気象現象で、5月から7月にかけて来る。" * 8 + "\n質問：梅雨がみられるのは？", "東アジアの広範囲")),
    "jsts": (["pearson", "spearman"], 3, lambda i: ("文1：川べりで人がサーフボードを持っている。\n文2：人がボードを運んでいる。", str((i % 51) / 10))),
}
if os.environ.get("BLEU"):
    tasks["alt-e-to-j"] = (["bleu_ja"], 60, lambda i: ("When the rainy season ends, summer begins in most of Japan.", "梅雨が明けると、日本の多くの地域で夏が始まります。"))
    tasks["alt-j-to-e"] = (["bleu_en"], 60, lambda i: ("梅雨が明けると、日本の多くの地域で夏が始まります。", "When the rainy season ends, summer begins in most of Japan."))
per = n // len(tasks)
for split in ("test", "train"):
    os.makedirs(f"{root}/{split}", exist_ok=True)
    for name, (metrics, cap, make) in tasks.items():
        samples = [dict(zip(("input", "output"), make(i))) for i in range(per if split == "test" else 4)]
        json.dump({"instruction": f"{name}の指示", "output_length": cap, "metrics": metrics, "few_shots": [], "samples": samples},
                  open(f"{root}/{split}/{name}.json", "w"), ensure_ascii=False)
PY
cargo build --release --quiet
echo "work: $work"
port=$((20000 + RANDOM % 20000))
./target/release/shinpan simulate --port "$port" > "$work/sim.log" 2>&1 &
sim=$!
sleep 1
args=(run --tasks "$work/evaluation/test" --models bench-model --max-samples -1 --base-url "http://127.0.0.1:$port/v1"
      --api-key-env "" --out "$work/out" --no-cache --concurrency 64 --bootstrap 1000 --format json --quiet)
start=$(date +%s.%N)
./target/release/shinpan "${args[@]}" > /dev/null
echo "answered $n samples through the simulator in $(echo "$(date +%s.%N) - $start" | bc) s"
rm -rf "$work/out/judgments" "$work/out/journal"
/usr/bin/time -o "$work/time" -f "%e %M" ./target/release/shinpan "${args[@]}" > "$work/report.json"
read -r wall kb < "$work/time"
echo "scored and reported $n samples (1000 bootstrap rounds): $wall s wall, $kb KB peak ($((kb / 1024)) MB)"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r=r[0] if isinstance(r,list) else r; print('tasks:', [(s['name'], s['samples']) for s in r['tasks'][0]['scores']])" "$work/report.json"
