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

/// (prediction, gold) pairs.
type Pairs = Vec<(String, String)>;

/// (prediction, gold) pairs for BLEU: edge cases of each tokenizer, then real answers from
/// `../shared/datasets` against a reproducibly damaged copy (words dropped and swapped) and,
/// in Japanese, against another model's answer to the same question.
fn bleu_pairs() -> (Pairs, Pairs) {
    let own = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let mut en = own(&[
        ("Hello, world!", "Hello world"),
        ("The cat sat on the mat.", "The cat is on the mat."),
        (
            "It costs $3,000.50 today.",
            "It costs 3,000.50 dollars today.",
        ),
        ("e-mail me at 10-11", "email me at 10 - 11"),
        ("a &amp; b &lt;c&gt; &quot;d&quot;", "a & b <c> \"d\""),
        ("<skipped> one-\ntwo\nthree", "onetwo three"),
        ("   ", "something"),
        ("word", "word"),
        ("a b c d e f", "a b c"),
        ("x\u{3000}y\u{1c}z", "x y z"),
        ("Don't stop (please)...", "Do not stop, please."),
    ]);
    let mut ja = own(&[
        ("東京都に住んでいます。", "東京に住んでいます。"),
        ("令和元年に生まれた。", "平成三十一年に生まれた。"),
        ("今日は\n良い天気です", "今日は良い天気です。"),
        ("ＡＢＣ１２３ｶﾀｶﾅ", "ABC123カタカナ"),
        ("すもももももももものうち", "すももも桃も桃のうち"),
        ("　", "何か"),
        ("猫", "猫"),
        ("😀 絵文字と🇯🇵", "絵文字と旗"),
    ]);
    let mut x: u64 = 2024;
    let mut next = |n: usize| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize % n.max(1)
    };
    let mut damage = |s: &str, sep: &str, by_char: bool| -> String {
        let mut units: Vec<String> = if by_char {
            s.chars().map(String::from).collect()
        } else {
            s.split(' ').map(String::from).collect()
        };
        for _ in 0..units.len() / 6 {
            let i = next(units.len());
            units.remove(i);
        }
        for _ in 0..units.len() / 10 {
            let (i, j) = (next(units.len()), next(units.len()));
            units.swap(i, j);
        }
        units.join(sep)
    };
    let ds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    let turns = |path: std::path::PathBuf| -> Vec<(i64, String)> {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["question_id"].as_i64().unwrap(),
                    v["choices"][0]["turns"][0].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    for (_, a) in turns(ds.join("mt_bench/model_answer/alpaca-13b.jsonl"))
        .iter()
        .take(60)
    {
        let gold = cut(a, 400);
        en.push((damage(&gold, " ", false), gold));
    }
    let vicuna = ds.join("ja_vicuna_qa/model_answer");
    let calm = turns(vicuna.join("cyberagent--calm2-7b-chat/results.jsonl"));
    let davinci = turns(vicuna.join("openai--text-davinci-003/results.jsonl"));
    for ((qa, a), (qb, b)) in calm.iter().zip(&davinci).take(80) {
        assert_eq!(qa, qb);
        let gold = cut(a, 300);
        ja.push((damage(&gold, "", true), gold.clone()));
        ja.push((cut(b, 300), gold));
    }
    (en, ja)
}

#[test]
fn bleu_en_and_bleu_ja_equal_sacrebleu() {
    use shinpan::scorer::bleu::{self, Lang};
    use shinpan::scorer::mecab::Mecab;
    let Some(paths) = installed(
        "SHINPAN_METRICS_DIR",
        "metrics",
        &["venv/bin/python", "ipadic/sys.dic"],
        "scripts/fetch-metrics.sh",
        "BLEU against sacrebleu",
    ) else {
        return;
    };
    let dic = paths[1].parent().unwrap();
    let (en, ja) = bleu_pairs();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.json");
    std::fs::write(&input, serde_json::to_string(&(&en, &ja)).unwrap()).unwrap();
    // Nejumi's blue_en / blue_ja (v3-maint 174c888), run as written there.
    let script = r#"
import json, sys
from sacrebleu import BLEU
en, ja = json.load(open(sys.argv[1]))
def bleu(lang, y_pred, y_true):
    y_pred, y_true = y_pred.strip(), y_true.strip()
    if not y_pred:
        return 0.0
    return BLEU(effective_order=True, trg_lang=lang).corpus_score([y_pred], [[y_true]]).score / 100
print(json.dumps({"en": [bleu("en", p, g) for p, g in en], "ja": [bleu("ja", p, g) for p, g in ja]}))
"#;
    let o = std::process::Command::new(&paths[0])
        .args(["-c", script, input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let py: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut mecab = Mecab::start("mecab", Some(dic)).unwrap();
    let mut mismatches = Vec::new();
    let mut nonzero = 0;
    for (lang, pairs) in [(Lang::En, &en), (Lang::Ja, &ja)] {
        let key = if lang == Lang::En { "en" } else { "ja" };
        for ((p, g), theirs) in pairs.iter().zip(py[key].as_array().unwrap()) {
            let ours = match lang {
                Lang::En => bleu::sample(p, g, Lang::En),
                Lang::Ja => bleu::score(p, g, |s| mecab.tokenize(s)),
            }
            .unwrap();
            let theirs = theirs.as_f64().unwrap();
            nonzero += usize::from(theirs > 0.0 && theirs < 1.0);
            if (ours - theirs).abs() > 1e-12 {
                mismatches.push(format!(
                    "{key} {p:?} / {g:?}: sacrebleu {theirs}, shinpan {ours}"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {}: {mismatches:?}",
        mismatches.len(),
        en.len() + ja.len()
    );
    // The real pairs score strictly between 0 and 1, not just at the ends.
    assert!(nonzero > 150, "{nonzero}");
}
