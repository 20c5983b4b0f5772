#!/usr/bin/env bash
# Benchmark: a self-hosted server's capacity. The real binary against `shinpan simulate` with
# SLOTS sequence slots, 500 ms per request and a 64-deep queue (503 beyond), no rate-limit
# headers (as vLLM and llama.cpp): 2 models × Q questions, single mode (4·Q requests), with
# the client flags given (none: the default concurrency). Prints the wall time against the
# bound the server allows (requests ÷ (slots ÷ latency)), the most requests in flight the
# server saw, and the 503s (BATCH_MS=N: each request N ms slower per other one served beside
# it; the bound then counts only slots ÷ latency). Usage: scripts/bench-capacity.sh [SLOTS] [Q] [client flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
slots=${1:-64}
q=${2:-200}
shift $(($# > 2 ? 2 : $#))
cargo build --release --quiet
BIN=$PWD/target/release/shinpan
work=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
python3 -c "
import json
for i in range(1, $q + 1):
    print(json.dumps({'question_id': i, 'category': 'stem', 'turns': [f'質問{i}: 空はなぜ青いのですか。']}, ensure_ascii=False))" > "$work/q.jsonl"
port=$((20000 + RANDOM % 20000))
"$BIN" simulate --port "$port" --latency-ms 500 --slots "$slots" --queue 64 --no-rate-headers ${BATCH_MS:+--batch-latency-ms "$BATCH_MS"} > "$work/sim.log" 2>&1 &
sim=$!
sleep 0.5
start=$(date +%s.%N)
"$BIN" run --models a,b --judge j --questions "$work/q.jsonl" --base-url "http://127.0.0.1:$port/v1" \
  --api-key-env "" --out "$work/out" --no-cache "$@" 2> "$work/run.log" > /dev/null
grep "concurrency:" "$work/run.log" || true
end=$(date +%s.%N)
curl -s "http://127.0.0.1:$port/stats" | python3 -c "
import json, sys
d = json.load(sys.stdin)
wall, n, slots = $end - $start, $q * 4, $slots
bound = n / (slots / 0.5)
print(f'{slots} slots, {n} requests: wall {wall:.2f} s, bound {bound:.2f} s, ratio {wall / bound:.2f}; most in flight {d[\"max_in_flight\"]}, 503s {d[\"overloaded\"]}')"
