//! BLEU of one prediction against its gold, as llm-jp-eval scores translation tasks
//! (`bleu_en`, `bleu_ja`): Nejumi's port (wandb/llm-leaderboard v3-maint at 174c888,
//! `scripts/evaluator/evaluate_utils/metrics.py`, `blue_en`/`blue_ja`) strips both, scores an
//! empty prediction 0, and takes sacrebleu's `BLEU(effective_order=True, trg_lang=…)
//! .corpus_score([pred], [[gold]]).score / 100`. sacrebleu (2.3.3, as that branch pins it)
//! tokenises English with its `13a` tokenizer and Japanese with MeCab and the IPA dictionary
//! (`ja-mecab`, [`super::mecab`]), then counts 1- to 4-grams, smooths a zero precision by
//! NIST's `exp` method and stops at the highest order the prediction has (effective order).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::tasks::normalize::py_strip;

/// Python's `str.split()` with no argument: runs of Python whitespace separate, none at the
/// ends.
fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
        .filter(|t| !t.is_empty())
}

/// sacrebleu's `13a` tokenizer (mteval-v13a's): `<skipped>` and hyphenated line ends dropped,
/// newlines made spaces, four HTML entities decoded, then ASCII punctuation and symbols
/// (but `'`, `-`, `.` and `,`) set apart, `.` and `,` set apart unless a digit is on both
/// sides, `-` after a digit set apart; tokens joined by one space.
pub fn tokenize_13a(line: &str) -> String {
    static RULES: OnceLock<[(regex::Regex, &'static str); 4]> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let r = |p: &str| regex::Regex::new(p).expect("a fixed pattern");
        [
            (r(r"([\{-~\[-` -&\(-\+:-@/])"), " $1 "),
            (r(r"([^0-9])([\.,])"), "$1 $2 "),
            (r(r"([\.,])([^0-9])"), " $1 $2"),
            (r(r"([0-9])(-)"), "$1 $2 "),
        ]
    });
    let mut s = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if s.contains('&') {
        s = s
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut s = format!(" {s} ");
    for (re, rep) in rules {
        s = re.replace_all(&s, *rep).into_owned();
    }
    py_split(&s).collect::<Vec<_>>().join(" ")
}

/// The n-gram orders BLEU counts.
const ORDERS: usize = 4;

/// Sentence BLEU (0-100) of two tokenised strings, as sacrebleu's `compute_bleu` gives it
/// for one hypothesis and one reference with `smooth_method="exp"` and `effective_order`:
/// 0 when no n-gram matches; else the brevity penalty times the geometric mean of the
/// precisions of the orders the hypothesis has, a zero precision at order n taken as
/// 100 / (2^k · total n-grams) for the k-th zero.
pub fn bleu_tokens(hyp: &str, reference: &str) -> f64 {
    fn grams<'a>(tokens: &'a [&'a str]) -> HashMap<&'a [&'a str], usize> {
        let mut grams = HashMap::new();
        for n in 1..=ORDERS {
            for w in tokens.windows(n) {
                *grams.entry(w).or_default() += 1;
            }
        }
        grams
    }
    let (ht, rt): (Vec<&str>, Vec<&str>) = (py_split(hyp).collect(), py_split(reference).collect());
    let (h, r) = (grams(&ht), grams(&rt));
    let (sys_len, ref_len) = (ht.len(), rt.len());
    let mut correct = [0usize; ORDERS];
    let mut total = [0usize; ORDERS];
    for (g, n) in &h {
        total[g.len() - 1] += n;
        if let Some(m) = r.get(g) {
            correct[g.len() - 1] += (*n).min(*m);
        }
    }
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    if correct.iter().all(|&c| c == 0) {
        return 0.0;
    }
    let mut precisions = [0.0f64; ORDERS];
    let mut smooth = 1.0f64;
    let mut order = ORDERS;
    for n in 0..ORDERS {
        if total[n] == 0 {
            break;
        }
        order = n + 1;
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    // sacrebleu's `my_log`: log 0 floored to −9999999999 (only reachable without
    // effective order, kept for the same arithmetic).
    let log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
    bp * (precisions[..order].iter().map(|&p| log(p)).sum::<f64>() / order as f64).exp()
}

/// The language whose tokenisation a BLEU uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// `13a`.
    En,
    /// MeCab with the IPA dictionary.
    Ja,
}

/// llm-jp-eval's per-sample BLEU on 0-1 with the language's tokenizer ([`score`]).
pub fn sample(pred: &str, gold: &str, lang: Lang) -> Option<f64> {
    match lang {
        Lang::En => score(pred, gold, |s| Ok(tokenize_13a(s))),
        Lang::Ja => score(pred, gold, super::mecab::tokenize),
    }
}

/// llm-jp-eval's per-sample BLEU on 0-1: both stripped; an empty prediction 0; else
/// sacrebleu's score of the two as `tokenize` makes them (after sacrebleu's right-strip)
/// / 100. `None` when tokenising fails (MeCab is gone).
pub fn score(
    pred: &str,
    gold: &str,
    mut tokenize: impl FnMut(&str) -> Result<String, String>,
) -> Option<f64> {
    let (pred, gold) = (py_strip(pred), py_strip(gold));
    if pred.is_empty() {
        return Some(0.0);
    }
    let h = tokenize(pred).ok()?;
    let r = tokenize(gold).ok()?;
    Some(bleu_tokens(&h, &r) / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_a_sets_punctuation_apart_but_keeps_numbers_and_hyphens_together() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(tokenize_13a("It costs $3,000.50."), "It costs $ 3,000.50 .");
        assert_eq!(tokenize_13a("e-mail 1-2 don't"), "e-mail 1 - 2 don't");
        assert_eq!(tokenize_13a("a &amp; b&lt;c"), "a & b < c");
        assert_eq!(tokenize_13a("line-\nbreak\nnext"), "linebreak next");
        assert_eq!(tokenize_13a("東京（とうきょう）。"), "東京（とうきょう）。");
    }

    /// "the cat sat on the mat" against "the cat is on the mat": 5/6 unigrams, 3/5 bigrams,
    /// 1/4 trigrams, no 4-gram of 3 (smoothed to 1/6); equal lengths, no brevity penalty:
    /// (5/6 · 3/5 · 1/4 · 1/6)^(1/4).
    #[test]
    fn bleu_by_hand() {
        let b = bleu_tokens("the cat sat on the mat", "the cat is on the mat");
        let want = 100.0 * (5.0 / 6.0 * 3.0 / 5.0 * 1.0 / 4.0 * 1.0 / 6.0f64).powf(0.25);
        assert!((b - want).abs() < 1e-9, "{b} {want}");
        // Two tokens against three: effective order 2, brevity penalty e^(1 − 3/2).
        let b = bleu_tokens("the cat", "the cat sat");
        assert!((b - 100.0 * (1.0f64 - 1.5).exp()).abs() < 1e-9, "{b}");
        // No match at all is 0, as is an empty prediction.
        assert_eq!(bleu_tokens("dog", "the cat"), 0.0);
        assert_eq!(sample("  ", "the cat", Lang::En), Some(0.0));
        // Equal sentences: exp(ln 100) / 100, 1.0000000000000004 in sacrebleu too.
        assert!((sample("The cat.", "The cat.", Lang::En).unwrap() - 1.0).abs() < 1e-12);
    }
}
