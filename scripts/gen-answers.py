"""Writes FastChat answer files for the models and questions of scripts/gen-pairwise.py
(model-0 … model-9, questions 1-80, two turns): answers of graded length and Markdown, so that
a report over them has style features to control for. Deterministic."""
import json
import os
import random
import sys

out = sys.argv[1]
rng = random.Random(2)
os.makedirs(out, exist_ok=True)
for i in range(10):
    with open(os.path.join(out, f"model-{i}.jsonl"), "w") as f:
        for q in range(1, 81):
            turns = []
            for _ in range(2):
                lines = []
                for k in range(rng.randint(2, 6 + i)):
                    if rng.random() < 0.1 * (i % 4):
                        lines.append(f"## 見出し{k}")
                    if rng.random() < 0.5:
                        lines.append(f"- 項目{k}: **要点**です。")
                    lines.append("回答の文です。" * rng.randint(1, 8))
                turns.append("\n".join(lines))
            f.write(json.dumps({
                "question_id": q, "answer_id": f"{i}-{q}", "model_id": f"model-{i}",
                "choices": [{"index": 0, "turns": turns}], "tstamp": 1700000000.0,
            }, ensure_ascii=False) + "\n")
