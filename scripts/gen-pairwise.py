"""Writes N synthetic FastChat pairwise judgment records (10 models of graded strength, a
15% tie rate, a small first-position bias, 1% error verdicts) for benchmarks. Deterministic."""
import json
import math
import random
import sys

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(1)
models = [f"model-{i}" for i in range(10)]
strength = {m: i * 0.25 for i, m in enumerate(models)}


def verdict(d, home):
    if rng.random() < 0.15:
        return "tie"
    return "model_1" if rng.random() < 1 / (1 + math.exp(-(d + home))) else "model_2"


with open(out, "w") as f:
    for k in range(n):
        a, b = rng.sample(models, 2)
        d = strength[a] - strength[b]
        g1 = verdict(d, 0.2)
        g2 = verdict(d, -0.2)
        if rng.random() < 0.01:
            g2 = "error"
        f.write(json.dumps({
            "question_id": k % 80 + 1, "model_1": a, "model_2": b,
            "g1_winner": g1, "g2_winner": g2, "judge": ["gpt-4", "pair-v2"],
            "turn": 1 + (k // 80) % 2, "tstamp": 1700000000.0,
        }) + "\n")
