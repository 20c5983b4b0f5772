//! How a reply becomes a prediction, and a gold answer a gold, before a metric compares them:
//! as Nejumi's port of llm-jp-eval does it (wandb/llm-leaderboard, branch v3-maint at
//! 174c888: `scripts/evaluator/jaster.py` and `evaluate_utils/formatter.py`): the task's
//! formatter, the first paragraph, stripped, quotes stripped, stripped again, NFKC; the gold
//! NFKC'd. A v2 task's answer pattern ([`super::pattern`]) takes the first paragraph's place.

use unicode_normalization::UnicodeNormalization;

/// Python's `str.isspace`, which `str.strip()` strips: Rust's whitespace and the four
/// information separators (U+001C–U+001F).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// Unicode NFKC, as Python's `unicodedata.normalize("NFKC", s)`.
pub fn nfkc(s: &str) -> String {
    s.nfkc().collect()
}

/// The task's formatter (`text_formatter`): NLI tasks strip and lower-case; choice and
/// analysis tasks strip; open QA drops `応答:`, `回答:` and `答え:` then strips and
/// lower-cases; JMMLU and MMLU drop their answer labels and upper-case; others are kept.
pub fn format(task: &str, s: &str) -> String {
    let drop = |s: &str, labels: &[&str]| {
        let mut out = s.to_string();
        for l in labels {
            out = out.replace(l, "");
        }
        out
    };
    const JA_LABELS: &[&str] = &["応答:", "回答:", "答え:"];
    match task {
        "jamp" | "janli" | "jnli" | "jsem" | "jsick" => py_strip(s).to_lowercase(),
        "jcommonsenseqa" | "commonsensemoralja" | "mawps" | "wiki_reading" | "wiki_ner"
        | "wiki_dependency" | "wiki_pas" | "wiki_coreference" | "chabsa" => py_strip(s).to_string(),
        "jemhopqa" | "jsquad" | "niilc" => py_strip(&drop(s, JA_LABELS)).to_lowercase(),
        t if t.starts_with("jmmlu_") => py_strip(&drop(s, JA_LABELS)).to_uppercase(),
        t if t.starts_with("mmlu_en_") => {
            py_strip(&drop(s, &["ANSWER:", "RESPONSE:"])).to_uppercase()
        }
        _ => s.to_string(),
    }
}

/// A reply as the prediction a metric compares.
pub fn prediction(
    task: &str,
    reply: &str,
    pattern: Option<&super::pattern::AnswerPattern>,
) -> String {
    let formatted = format(task, reply);
    let answer = match pattern {
        Some(p) => p.extract(&formatted),
        None => formatted
            .split("\n\n")
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let s = py_strip(&answer);
    let s = py_strip(s.trim_matches('\'').trim_matches('"'));
    nfkc(s)
}

/// A gold answer as a metric compares it.
pub fn gold(s: &str) -> String {
    nfkc(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_formatted_cut_to_its_first_paragraph_unquoted_and_nfkc() {
        assert_eq!(
            prediction("jnli", "  Entailment\n\n理由は…", None),
            "entailment"
        );
        assert_eq!(prediction("jsquad", "回答: \"東京\"", None), "東京");
        // Full-width digits and letters become ASCII; the quotes go only at the ends.
        assert_eq!(prediction("jcommonsenseqa", "'２'", None), "2");
        assert_eq!(prediction("other", "  ＡＢＣ \n\n x", None), "ABC");
        assert_eq!(prediction("jmmlu_law", "回答:b", None), "B");
        // Python's strip also takes the information separators.
        assert_eq!(prediction("other", "\u{1f}x\u{1c}", None), "x");
        assert_eq!(gold("５．０"), "5.0");
    }

    #[test]
    fn a_v2_pattern_takes_the_first_paragraphs_place() {
        let p = super::super::pattern::AnswerPattern::new(r"答え[:：]\s*(.*?)(?=\n|\Z)").unwrap();
        assert_eq!(prediction("x", "考え…\n\n答え: 3\n以上", Some(&p)), "3");
        assert_eq!(prediction("x", "答えなし", Some(&p)), "");
    }
}
