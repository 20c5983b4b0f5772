#!/usr/bin/env bash
# Benchmark: a stated limit held exactly. The real binary against `shinpan simulate` in its own
# process, 300 ms per reply, a server that allows L requests in any 1-second window (a sliding
# log, `--sliding-window`: the strictest way a limit is counted), single mode with two models
# (answers then judgments): the client told the limit (`--rpm 60·L`) with no headers, and the
# client learning it from headers; then 5% of replies a stray 429. Prints each run's wall time
# against the bound the limit sets (requests ÷ L), the 429s, and whether it is within 1.05 ×
# the bound with under 1% 429s. CLIENT=path runs another shinpan binary as the client (an
# older build, to compare) against this build's simulator.
# Usage: [CLIENT=…/shinpan] scripts/bench-stated-limit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$PWD/target/release/shinpan
CLIENT=${CLIENT:-$BIN}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
missed=0
scenario() { # label, L, questions, simulator flags, client flags…
  local label=$1 L=$2 Q=$3 simflags=$4
  shift 4
  python3 -c "
import json
for i in range(1, $Q + 1):
    print(json.dumps({'question_id': i, 'category': 'stem', 'turns': [f'質問{i}: 空はなぜ青いのですか。']}, ensure_ascii=False))" > "$work/q.jsonl"
  local port=$((20000 + RANDOM % 20000))
  # shellcheck disable=SC2086
  "$BIN" simulate --port "$port" --latency-ms 300 --rpm $((60 * L)) --window-ms 1000 $simflags > "$work/sim.log" 2>&1 &
  local sim=$!
  sleep 0.5
  rm -rf "$work/out"
  local start end
  start=$(date +%s.%N)
  "$CLIENT" run --models a,b --judge j --questions "$work/q.jsonl" --base-url "http://127.0.0.1:$port/v1" \
    --api-key-env "" --out "$work/out" --no-cache --quiet "$@" > /dev/null 2> "$work/err" || { cat "$work/err"; }
  end=$(date +%s.%N)
  local stats
  stats=$(curl -s "http://127.0.0.1:$port/stats")
  kill "$sim"
  python3 - "$label" "$start" "$end" "$((Q * 4))" "$L" "$stats" <<'PY' || missed=1
import json, sys
label, s, e, n, L, stats = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), json.loads(sys.argv[6])
wall, bound = e - s, n / L
refused = stats.get("rate_limited", 0)
share = refused / max(stats.get("requests", 1), 1)
ok = wall <= 1.05 * bound and share < 0.01
print(f"{label:<46} {n:>5} requests  wall {wall:6.2f} s  bound {bound:6.2f} s  ratio {wall / bound:.3f}  429s {refused:>3} ({100 * share:.1f}%)  {'ok' if ok else 'MISSED'}")
sys.exit(0 if ok else 1)
PY
}
echo "a stated limit held exactly: 300 ms per reply, L requests in any 1-second window"
scenario "L=5/s, --rpm 300, no headers"         5   40 "--sliding-window --no-rate-headers" --rpm 300
scenario "L=1/s, --rpm 60, no headers"          1   10 "--sliding-window --no-rate-headers" --rpm 60
scenario "L=20/s, --rpm 1200, no headers"      20  100 "--sliding-window --no-rate-headers" --rpm 1200
scenario "L=100/s, --rpm 6000, no headers"    100  500 "--sliding-window --no-rate-headers" --rpm 6000
scenario "L=5/s, learned from headers"          5   40 "--sliding-window"
scenario "L=5/s, bucket, learned from headers"  5   40 ""
echo "an occasional 429 at the limit (5% of replies, no Retry-After): the bound is the same"
scenario "L=5/s, --rpm 300, 5% stray 429s"      5   40 "--sliding-window --no-rate-headers --fault 429=0.05" --rpm 300
exit $missed
