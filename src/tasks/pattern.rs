//! A v2 task's answer pattern, as llm-jp-eval v2 applies it (read from Nejumi's port of its
//! answer parser, wandb/llm-leaderboard main at fb5ea69,
//! `scripts/evaluator/evaluate_utils/answer_parser.py`): Python's
//! `re.search(pattern, reply, re.DOTALL)`, the match's groups joined and stripped; empty when
//! it does not match. The pattern is Python's syntax, lookarounds included (fancy-regex), with
//! `\Z` read as Python's end of text. A task names its pattern (`answer_extract_pattern`) or
//! one of llm-jp-eval's by id (`answer_pattern_id`; `custom` without a pattern is the first
//! paragraph).

use crate::tasks::normalize::py_strip;

/// llm-jp-eval's answer patterns by `answer_pattern_id` (`ANSWER_PATTERNS`, and `custom`'s
/// default).
const BY_ID: &[(&str, &str)] = &[
    ("custom", r"(?s)^(.*?)(?=\n\n|\Z)"),
    ("answer_tags_jp", r"<answer>(.*?)</answer>"),
    ("answer_tags_en", r"<answer>(.*?)</answer>"),
    ("choice_only_jp", r"(?s)^(.*?)(?=\n|\Z)"),
    ("choice_only_en", r"(?s)^(.*?)(?=\n|\Z)"),
    ("json_output_jp", r"```json\s*\n?(.*?)\n?```"),
    ("json_output_en", r"```json\s*\n?(.*?)\n?```"),
    ("code_output_jp", r"```(?:\w+)?\s*\n?(.*?)\n?```"),
    ("code_output_en", r"```(?:\w+)?\s*\n?(.*?)\n?```"),
];

/// The pattern an `answer_pattern_id` names; an error listing the known ids.
pub fn by_id(id: &str) -> Result<&'static str, String> {
    BY_ID
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, p)| *p)
        .ok_or_else(|| {
            let known: Vec<&str> = BY_ID.iter().map(|(i, _)| *i).collect();
            format!(
                "unknown answer_pattern_id {id:?} (known: {})",
                known.join(", ")
            )
        })
}

/// A compiled answer pattern.
#[derive(Debug, Clone)]
pub struct AnswerPattern(fancy_regex::Regex);

/// Python's pattern as fancy-regex reads it: DOTALL on, `\Z` (end of text) as `\z`.
fn translate(p: &str) -> String {
    let mut out = String::from("(?s)");
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('Z') => out.push_str(r"\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl AnswerPattern {
    /// Compiles Python's pattern `p`; the error says why not.
    pub fn new(p: &str) -> Result<AnswerPattern, String> {
        fancy_regex::Regex::new(&translate(p))
            .map(AnswerPattern)
            .map_err(|e| e.to_string())
    }

    /// The answer in `reply`: the first match's groups joined (a group that took no part is
    /// empty), stripped; empty when nothing matches or the pattern has no group.
    pub fn extract(&self, reply: &str) -> String {
        match self.0.captures(reply) {
            Ok(Some(c)) => {
                let joined: String = c
                    .iter()
                    .skip(1)
                    .map(|g| g.map_or("", |m| m.as_str()))
                    .collect();
                py_strip(&joined).to_string()
            }
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns as llm-jp-eval's answer parser applies them (Python's `re` on the same
    /// replies gives the same answers).
    #[test]
    fn patterns_extract_as_pythons_re_does() {
        let first = AnswerPattern::new(by_id("custom").unwrap()).unwrap();
        assert_eq!(first.extract("  3\n\n理由"), "3");
        assert_eq!(first.extract("答え"), "答え");
        let line = AnswerPattern::new(by_id("choice_only_jp").unwrap()).unwrap();
        assert_eq!(line.extract("2\nです"), "2");
        let tags = AnswerPattern::new(by_id("answer_tags_jp").unwrap()).unwrap();
        assert_eq!(tags.extract("考え…<answer> 東京\n都 </answer>"), "東京\n都");
        assert_eq!(tags.extract("タグなし"), "");
        let json = AnswerPattern::new(by_id("json_output_en").unwrap()).unwrap();
        assert_eq!(json.extract("```json\n{\"a\": 1}\n```"), "{\"a\": 1}");
        // Two groups are joined; one that took no part is empty; no group gives nothing.
        let two = AnswerPattern::new(r"(\d+)(点)?").unwrap();
        assert_eq!(two.extract("5点"), "5点");
        assert_eq!(two.extract("5"), "5");
        assert_eq!(AnswerPattern::new(r"\d+").unwrap().extract("5"), "");
        // `\Z` is Python's end of text; an escaped backslash before Z stays a backslash.
        assert_eq!(translate(r"a\Z|\\Z"), r"(?s)a\z|\\Z");
        assert!(by_id("nope").unwrap_err().contains("choice_only_jp"));
        assert!(AnswerPattern::new("(").is_err());
    }
}
