#!/usr/bin/env bash
# Benchmark: --concurrency auto against fixed values on the real llama.cpp server of the
# end-to-end test (scripts/fetch-llama.sh), started with -np 4 (four sequence slots): 2 models
# × Q questions, single mode, short outputs. Prints each setting's wall time and the summary's
# concurrency line. Usage: scripts/bench-llama-concurrency.sh [Q] [fixed values…]
set -euo pipefail
cd "$(dirname "$0")/.."
q=${1:-12}
shift $(($# > 0 ? 1 : 0))
fixed=${*:-1 2 4 8 16}
dir=${SHINPAN_LLAMA_DIR:-$HOME/.cache/shinpan}
cargo build --release --quiet
BIN=$PWD/target/release/shinpan
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$dir/llama-server" -m "$dir/smollm2.gguf" --host 127.0.0.1 --port "$port" -c 8192 -np 4 -t 2 --seed 1 \
  > "$work/llama.log" 2>&1 &
srv=$!
trap 'kill "$srv" 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/health" > /dev/null; do sleep 0.5; done
python3 -c "
import json
for i in range(1, $q + 1):
    print(json.dumps({'question_id': i, 'category': 'stem', 'turns': [f'Question {i}: why is the sky blue? Answer in one sentence.']}))" > "$work/q.jsonl"
for c in auto $fixed; do
  start=$(date +%s.%N)
  "$BIN" run --models a,b --judge j --questions "$work/q.jsonl" --base-url "http://127.0.0.1:$port/v1" \
    --api-key-env "" --out "$work/out-$c" --no-cache --max-tokens 48 --judge-max-tokens 48 \
    --bootstrap 0 --concurrency "$c" 2> "$work/run-$c.log" > /dev/null || true
  end=$(date +%s.%N)
  line=$(grep -o "concurrency: .*" "$work/run-$c.log" | sed 's|http://[^ ]*: ||' || true)
  python3 -c "print(f'--concurrency $c: wall {$end - $start:.1f} s · $line')"
done
