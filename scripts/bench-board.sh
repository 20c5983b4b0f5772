#!/usr/bin/env bash
# Benchmark: time and peak memory of `shinpan board` over a board of 20 models × 30 cells
# (29 llm-jp-eval task scores and AVG, from one task run of N samples per task, default 100,
# answered by shinpan's simulator), with 1000 bootstrap rounds.
# Usage: scripts/bench-board.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
work=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$n" "$work/evaluation" <<'PY'
import json, os, sys
n, root = int(sys.argv[1]), sys.argv[2]
names = ["jamp", "janli", "jnli", "jsem", "jsick", "jemhopqa", "niilc", "aio", "jsquad", "jcommonsenseqa",
         "commonsensemoralja", "kuci", "chabsa", "wiki_reading", "wiki_ner", "wiki_dependency", "wiki_pas",
         "wiki_coreference", "mawps", "mgsm", "mmlu_en", "jmmlu", "x1", "x2", "x3", "x4", "x5", "x6", "x7"]
for split in ("test", "train"):
    os.makedirs(f"{root}/{split}", exist_ok=True)
    for t in names:
        samples = [{"input": f"{t}の問{i}", "output": str(i % 3)} for i in range(n if split == "test" else 4)]
        json.dump({"instruction": "答えてください。", "output_length": 3, "metrics": ["exact_match"], "few_shots": [],
                   "samples": samples}, open(f"{root}/{split}/{t}.json", "w"), ensure_ascii=False)
PY
cargo build --release --quiet
port=$((20000 + RANDOM % 20000))
./target/release/shinpan simulate --port "$port" > "$work/sim.log" 2>&1 &
sim=$!
sleep 1
models=$(python3 -c "print(','.join(f'model-{i:02d}' for i in range(20)))")
start=$(date +%s.%N)
./target/release/shinpan run --tasks "$work/evaluation/test" --models "$models" --max-samples -1 \
  --base-url "http://127.0.0.1:$port/v1" --api-key-env "" --out "$work/run" --no-cache --concurrency 64 \
  --bootstrap 0 --quiet > /dev/null
echo "answered $((20 * 29 * n)) samples in $(echo "$(date +%s.%N) - $start" | bc) s"
/usr/bin/time -o "$work/time" -f "%e %M" ./target/release/shinpan board "$work/run" --format json --bootstrap 1000 > "$work/board.json"
read -r wall kb < "$work/time"
python3 -c "import json,sys; b=json.load(open(sys.argv[1])); print(len(b['rows']), 'models ×', len(b['columns']), 'cells')" "$work/board.json"
echo "shinpan board (1000 bootstrap rounds): $wall s wall, $kb KB peak ($((kb / 1024)) MB)"
