//! Rule-based metrics of a prediction against its gold answer, as llm-jp-eval computes them
//! (read from Nejumi's port, wandb/llm-leaderboard `scripts/evaluator/evaluate_utils/metrics.py`
//! at 2b81f83, and fuzzywuzzy 0.18.0 with python-Levenshtein, which it pins): the scorers that
//! need no judge. Predictions and golds arrive normalised (the task's formatter, NFKC); these
//! functions compare them.

/// The metrics offered, by the names llm-jp-eval's task files use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// 1 when the prediction equals the gold, else 0.
    ExactMatch,
    /// 1 when both read as the same number (MAWPS, MGSM), else 0.
    ExactMatchFigure,
    /// llm-jp-eval's `char_f1`: fuzzywuzzy's `token_sort_ratio` / 100 (see
    /// [`token_sort_ratio`]), which is not a character F1.
    CharF1,
    /// The character-level F1 that `char_f1`'s name suggests: the F1 of the characters the two
    /// share (as multisets). A shinpan metric, under its own name.
    CharLevelF1,
    /// `set_f1`: F1 of the prediction's distinct lines found among the gold's lines.
    SetF1,
    /// Pearson correlation over a task's samples (numbers parsed as llm-jp-eval parses them).
    Pearson,
    /// Spearman correlation over a task's samples.
    Spearman,
    /// Sentence BLEU of English (sacrebleu's `13a` tokens) / 100 ([`super::bleu`]).
    BleuEn,
    /// Sentence BLEU of Japanese (MeCab tokens with the IPA dictionary) / 100.
    BleuJa,
}

impl Metric {
    /// The metric a task file names; an error naming it for one shinpan does not compute
    /// faithfully (COMET, BERTScore, code execution), or does not know.
    pub fn parse(name: &str) -> Result<Metric, String> {
        Ok(match name {
            "exact_match" => Metric::ExactMatch,
            "exact_match_figure" => Metric::ExactMatchFigure,
            "char_f1" => Metric::CharF1,
            "char_level_f1" => Metric::CharLevelF1,
            "set_f1" => Metric::SetF1,
            "pearson" => Metric::Pearson,
            "spearman" => Metric::Spearman,
            "bleu_en" => Metric::BleuEn,
            "bleu_ja" => Metric::BleuJa,
            n if Metric::refused(n) => {
                return Err(format!(
                    "metric {name:?} needs a model, a sandbox or a tokenisation shinpan does not run; it is refused rather than approximated"
                ));
            }
            other => {
                return Err(format!(
                    "unknown metric {other:?} (known: exact_match, exact_match_figure, char_f1, char_level_f1, set_f1, pearson, spearman, bleu_en, bleu_ja)"
                ));
            }
        })
    }

    /// Whether `name` is one of llm-jp-eval's metrics that shinpan knows and does not compute
    /// (COMET and BERTScore need their models, code execution a sandbox, ROUGE llm-jp-eval's
    /// own Japanese tokenisation): a task listing one is scored by its other metrics, and
    /// this one's cell is marked missing, saying why.
    pub fn refused(name: &str) -> bool {
        matches!(
            name,
            "comet_wmt22"
                | "bert_score_en_f1"
                | "bert_score_ja_f1"
                | "code_exec"
                | "code_exec_sandbox"
                | "pylint_check"
                | "rouge1"
                | "rouge2"
                | "rougeL"
                | "rougeLsum"
        )
    }

    /// The name llm-jp-eval's files and tables use.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ExactMatch => "exact_match",
            Metric::ExactMatchFigure => "exact_match_figure",
            Metric::CharF1 => "char_f1",
            Metric::CharLevelF1 => "char_level_f1",
            Metric::SetF1 => "set_f1",
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
            Metric::BleuEn => "bleu_en",
            Metric::BleuJa => "bleu_ja",
        }
    }

    /// Whether the metric can be computed on this machine (`bleu_ja` needs MeCab with the
    /// IPA dictionary); else why not and how to fix it. Checked before a run asks anything.
    pub fn ready(self) -> Result<(), String> {
        match self {
            Metric::BleuJa => super::mecab::ready(),
            _ => Ok(()),
        }
    }

    /// Whether the metric needs a non-empty gold (BLEU: sacrebleu's reference cannot be
    /// empty, and llm-jp-eval raises on one).
    pub fn needs_gold(self) -> bool {
        matches!(self, Metric::BleuEn | Metric::BleuJa)
    }

    /// Whether the metric is computed over a task's samples together (correlations) rather
    /// than per sample and averaged.
    pub fn over_task(self) -> bool {
        matches!(self, Metric::Pearson | Metric::Spearman)
    }

    /// The per-sample value (`None` for the task-level metrics, and for `bleu_ja` when MeCab
    /// fails mid-run).
    pub fn sample(self, pred: &str, gold: &str) -> Option<f64> {
        Some(match self {
            Metric::ExactMatch => f64::from(u8::from(pred == gold)),
            Metric::ExactMatchFigure => exact_match_figure(pred, gold),
            Metric::CharF1 => f64::from(token_sort_ratio(pred, gold)) / 100.0,
            Metric::CharLevelF1 => char_level_f1(pred, gold),
            Metric::SetF1 => set_f1(pred, gold),
            Metric::BleuEn => super::bleu::sample(pred, gold, super::bleu::Lang::En)?,
            Metric::BleuJa => super::bleu::sample(pred, gold, super::bleu::Lang::Ja)?,
            Metric::Pearson | Metric::Spearman => return None,
        })
    }

    /// The task-level value over (prediction, gold) pairs: a correlation of the golds with the
    /// predictions parsed by [`parse_float`], 0 where it is undefined (as llm-jp-eval maps a
    /// NaN); the mean of the per-sample values otherwise. `None` without samples, or when a
    /// gold is not a number (the task file is wrong).
    pub fn task(self, pairs: &[(&str, &str)]) -> Option<f64> {
        if pairs.is_empty() {
            return None;
        }
        match self {
            Metric::Pearson | Metric::Spearman => {
                let golds: Vec<f64> = pairs
                    .iter()
                    .map(|(_, g)| g.trim().parse::<f64>().ok())
                    .collect::<Option<_>>()?;
                let preds: Vec<f64> = pairs.iter().map(|(p, _)| parse_float(p)).collect();
                let r = if self == Metric::Pearson {
                    crate::aggregate::length::pearson(&golds, &preds)
                } else {
                    crate::aggregate::agreement::spearman(&golds, &preds)
                };
                Some(r.filter(|r| r.is_finite()).unwrap_or(0.0))
            }
            _ => {
                let n = pairs.len() as f64;
                Some(
                    pairs
                        .iter()
                        .filter_map(|(p, g)| self.sample(p, g))
                        .sum::<f64>()
                        / n,
                )
            }
        }
    }
}

/// A number as llm-jp-eval reads a prediction for a correlation: every character but the
/// digits and `.` removed, then parsed; −2 when that fails (`"3.5点"` is 3.5, `"-1"` is 1,
/// `"1.2.3"` is −2).
pub fn parse_float(s: &str) -> f64 {
    let kept: String = s
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    python_float(&kept).unwrap_or(-2.0)
}

/// Python's `float()` on the strings it can meet here: optional surrounding whitespace, a
/// sign, digits with at most one `.`, an exponent; `inf`/`nan` words. `None` where Python
/// raises ValueError.
fn python_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.contains(['_', 'x', 'X']) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// `exact_match_figure`: 1 when the prediction and the gold parse as the same number
/// (`float(pred) == float(gold)`), 0 when either does not parse.
pub fn exact_match_figure(pred: &str, gold: &str) -> f64 {
    match (python_float(pred), python_float(gold)) {
        (Some(a), Some(b)) if a == b => 1.0,
        _ => 0.0,
    }
}

/// fuzzywuzzy's `token_sort_ratio(a, b)` (0.18.0, `force_ascii=True`, with
/// python-Levenshtein): each string processed — code points 128-255 dropped, every character
/// that is not a letter, digit or `_` made a space (so 、。「」 separate tokens and Japanese
/// letters stay), lower-cased, stripped — then its whitespace-separated tokens sorted and
/// joined by one space; two equal results score 100, an empty one against another 0, else
/// `round(100 · 2·LCS / (len a + len b))` in characters (Levenshtein's ratio: the Indel
/// distance), rounding half to even as Python's `round` does.
pub fn token_sort_ratio(a: &str, b: &str) -> u32 {
    let (a, b) = (sorted_tokens(a), sorted_tokens(b));
    if a == b {
        return 100;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let lcs = lcs_len(&a, &b);
    let ratio = 2.0 * lcs as f64 / (a.len() + b.len()) as f64;
    round_half_even(100.0 * ratio) as u32
}

fn sorted_tokens(s: &str) -> String {
    let processed: String = s
        .chars()
        .filter(|c| !(128..=255).contains(&u32::from(*c)))
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .to_lowercase();
    let mut tokens: Vec<&str> = processed.split_whitespace().collect();
    tokens.sort_unstable();
    tokens.join(" ")
}

/// The length of the longest common subsequence (two rows of the table).
fn lcs_len(a: &[char], b: &[char]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            row[j + 1] = if x == y {
                prev[j] + 1
            } else {
                row[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// The F1 of the characters two strings share, counted as multisets (whitespace included):
/// 2·common / (len pred + len gold); 1 for two empty strings.
pub fn char_level_f1(pred: &str, gold: &str) -> f64 {
    use std::collections::HashMap;
    let count = |s: &str| {
        let mut m: HashMap<char, usize> = HashMap::new();
        for c in s.chars() {
            *m.entry(c).or_default() += 1;
        }
        m
    };
    let (p, g) = (count(pred), count(gold));
    let (np, ng) = (pred.chars().count(), gold.chars().count());
    if np + ng == 0 {
        return 1.0;
    }
    let common: usize = p
        .iter()
        .map(|(c, n)| (*n).min(g.get(c).copied().unwrap_or(0)))
        .sum();
    2.0 * common as f64 / (np + ng) as f64
}

/// llm-jp-eval's `set_f1`: the gold's lines (stripped) as a list, the prediction's distinct
/// lines (stripped); precision = predicted lines found in the gold / predicted lines, recall =
/// the same count / gold lines; their F1, 0 when both are 0.
pub fn set_f1(pred: &str, gold: &str) -> f64 {
    let gold: Vec<&str> = gold.split('\n').map(str::trim).collect();
    let mut distinct: Vec<&str> = pred.split('\n').map(str::trim).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let found = distinct.iter().filter(|p| gold.contains(p)).count() as f64;
    let (precision, recall) = (found / distinct.len() as f64, found / gold.len() as f64);
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by fuzzywuzzy 0.18.0 with python-Levenshtein 0.27.5 (`fuzz.token_sort_ratio`),
    /// and checked by hand: 東京都/東京 share 2 of 5 characters twice (80); 、 and 。 become
    /// spaces (93); 9 and 11 characters with 9 in common (90); é is dropped (86).
    #[test]
    fn token_sort_ratio_is_fuzzywuzzys() {
        for (a, b, want) in [
            ("東京都", "東京", 80),
            ("今日は、晴れです。", "今日は晴れです", 93),
            ("Hello World", "world hello", 100),
            ("abc", "xyz", 0),
            ("", "a", 0),
            ("2023年4月1日", "2023年04月01日", 90),
            ("ＡＢＣ", "abc", 0),
            ("a b c", "c b a d", 83),
            ("", "", 100),
            ("。", "、", 100),
            ("é café", "cafe", 86),
        ] {
            assert_eq!(token_sort_ratio(a, b), want, "{a} / {b}");
        }
        assert_eq!(Metric::CharF1.sample("東京都", "東京"), Some(0.8));
    }

    #[test]
    fn rounding_is_half_to_even_as_pythons() {
        assert_eq!(round_half_even(82.5), 82.0);
        assert_eq!(round_half_even(83.5), 84.0);
        assert_eq!(round_half_even(83.4), 83.0);
    }

    #[test]
    fn the_other_metrics_by_hand() {
        assert_eq!(
            Metric::ExactMatch.sample("entailment", "entailment"),
            Some(1.0)
        );
        assert_eq!(
            Metric::ExactMatch.sample("entailment ", "entailment"),
            Some(0.0)
        );
        assert_eq!(exact_match_figure("12", "12.0"), 1.0);
        assert_eq!(exact_match_figure("十二", "12"), 0.0);
        // 東京 and 東京都: 2 shared of 2 + 3 characters.
        assert!((char_level_f1("東京", "東京都") - 0.8).abs() < 1e-12);
        // Two of the three predicted lines (one twice) are gold lines; gold has four lines.
        let f = set_f1("a\nb\nb\nz", "a\nb\nc\nd");
        let (p, r) = (2.0 / 3.0, 2.0 / 4.0);
        assert!((f - 2.0 * p * r / (p + r)).abs() < 1e-12, "{f}");
        assert_eq!(parse_float("3.5点"), 3.5);
        assert_eq!(parse_float("-1"), 1.0);
        assert_eq!(parse_float("1.2.3"), -2.0);
        assert_eq!(parse_float("わからない"), -2.0);
        // A correlation over the task: predictions in reverse order of the golds.
        let pairs = [("3", "1.0"), ("2", "2.0"), ("1", "3.0")];
        assert!((Metric::Pearson.task(&pairs).unwrap() + 1.0).abs() < 1e-12);
        assert!((Metric::Spearman.task(&pairs).unwrap() + 1.0).abs() < 1e-12);
        // Constant predictions: the correlation is undefined, counted 0 as llm-jp-eval does.
        assert_eq!(
            Metric::Pearson.task(&[("1", "1"), ("1", "2"), ("1", "3")]),
            Some(0.0)
        );
        assert_eq!(
            Metric::ExactMatch.task(&[("a", "a"), ("b", "c")]),
            Some(0.5)
        );
    }

    #[test]
    fn metrics_it_cannot_compute_faithfully_are_refused_by_name() {
        assert_eq!(Metric::parse("char_f1"), Ok(Metric::CharF1));
        assert_eq!(Metric::parse("bleu_ja"), Ok(Metric::BleuJa));
        for name in ["comet_wmt22", "bert_score_ja_f1", "code_exec", "rouge"] {
            let e = Metric::parse(name).unwrap_err();
            assert!(e.contains(name), "{e}");
        }
    }
}
