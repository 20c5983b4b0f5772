//! shinpan's rule-based metrics against the Python reference implementations llm-jp-eval
//! uses (fuzzywuzzy 0.18.0 with python-Levenshtein, scipy), on fixed predictions: installed
//! by `scripts/fetch-metrics.sh` (CI runs it).

use shinpan::scorer::metrics::{Metric, token_sort_ratio};

use crate::support::installed;

/// Fixed (prediction, gold) pairs of the kinds llm-jp-eval's tasks produce: Japanese answers
/// with punctuation, full-width and half-width forms, Latin text, numbers, empty strings and
/// several lines; and a reproducible mix of characters beside them.
fn pairs() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("東京都", "東京"),
        ("今日は、晴れです。", "今日は晴れです"),
        ("「吾輩は猫である」", "吾輩は猫である"),
        ("ＡＢＣ１２３", "abc123"),
        ("Hello, World!", "world hello"),
        ("", ""),
        ("。", "、"),
        ("答え", ""),
        ("2023年4月1日", "2023年04月01日"),
        ("entailment", "contradiction"),
        ("café au lait", "cafe au lait"),
        ("徳川家康\n豊臣秀吉", "豊臣秀吉\n徳川家康"),
        ("snake_case と camelCase", "camelCase snake_case"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let alphabet: Vec<char> = "東京大阪の天気は晴れ雨ですかアイウ、。「」！？ 　abcAB1２_é-\n"
        .chars()
        .collect();
    let mut x: u64 = 12345;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize % n
    };
    for _ in 0..500 {
        let a: String = (0..next(12))
            .map(|_| alphabet[next(alphabet.len())])
            .collect();
        let b: String = (0..next(12))
            .map(|_| alphabet[next(alphabet.len())])
            .collect();
        v.push((a, b));
    }
    v
}

#[test]
fn char_f1_and_correlations_equal_fuzzywuzzy_and_scipy() {
    let Some(paths) = installed(
        "SHINPAN_METRICS_DIR",
        "metrics",
        &["venv/bin/python"],
        "scripts/fetch-metrics.sh",
        "metrics against fuzzywuzzy and scipy",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.json");
    let pairs = pairs();
    std::fs::write(&input, serde_json::to_string(&pairs).unwrap()).unwrap();
    // Correlations over a task: golds 1-5 and predictions as a model writes them.
    let golds = ["1.0", "2.0", "3.0", "4.0", "5.0", "2.5", "4.5"];
    let preds = ["1", "2点", "3.5", "わからない", "4.8", "2", "5.0です"];
    let script = r#"
import json, sys, math, re
from fuzzywuzzy import fuzz
from scipy.stats import pearsonr, spearmanr
pairs = json.load(open(sys.argv[1]))
golds, preds = json.loads(sys.argv[2]), json.loads(sys.argv[3])
def parse_float(s):
    try:
        return float(re.sub(r"[^0-9.]", "", str(s)))
    except ValueError:
        return -2.0
p = pearsonr(list(map(float, golds)), list(map(parse_float, preds)))[0]
s = spearmanr(list(map(float, golds)), list(map(parse_float, preds)))[0]
print(json.dumps({"ratios": [fuzz.token_sort_ratio(a, b) for a, b in pairs],
                  "pearson": 0.0 if math.isnan(p) else p, "spearman": 0.0 if math.isnan(s) else s}))
"#;
    let o = std::process::Command::new(&paths[0])
        .args(["-c", script, input.to_str().unwrap()])
        .arg(serde_json::to_string(&golds).unwrap())
        .arg(serde_json::to_string(&preds).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let py: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ratios = py["ratios"].as_array().unwrap();
    let mut mismatches = Vec::new();
    for ((a, b), r) in pairs.iter().zip(ratios) {
        let ours = token_sort_ratio(a, b);
        if u64::from(ours) != r.as_u64().unwrap() {
            mismatches.push(format!("{a:?} / {b:?}: fuzzywuzzy {r}, shinpan {ours}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {}: {mismatches:?}",
        mismatches.len(),
        pairs.len()
    );
    let task: Vec<(&str, &str)> = preds.iter().copied().zip(golds.iter().copied()).collect();
    for (metric, key) in [(Metric::Pearson, "pearson"), (Metric::Spearman, "spearman")] {
        let ours = metric.task(&task).unwrap();
        let theirs = py[key].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() < 1e-12,
            "{key}: shinpan {ours}, scipy {theirs}"
        );
    }
}
