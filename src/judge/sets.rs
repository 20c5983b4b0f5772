//! Upstream judge prompt sets, used as they are published: a FastChat `judge_prompts.jsonl`
//! (`name`, `type`, `system_prompt`, `prompt_template` with `{placeholder}` fields,
//! `output_format`, `category`), as ja-vicuna-qa, Japanese MT-bench, Rakuda and MT-bench ship
//! theirs. Each prompt is matched to the judgment it serves (grade or game, with or without a
//! reference, turn 1 or the whole conversation) and its verdict is read the way its
//! `output_format` says; judgment records carry its upstream name (`single-v1`, `pair-v2`,
//! …) so the upstream tools open them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::prompts::{PromptError, PromptKind};
use super::verdict::{Choice, VerdictError, normalize, parse_choice, parse_rating_on};
use crate::client::Message;
use crate::types::Scale;

static TWO_RATINGS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\[\[\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)\s*\]\]").expect("valid regex")
});

/// How a prompt's verdict is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// A rating tag, `[[5]]` (`[[rating]]`, `[[評価]]`).
    Rating,
    /// A choice tag, `[[A]]`, `[[B]]`, `[[C]]` (tie).
    Choice,
    /// Two ratings, `[[8, 6]]`: the higher wins, within 0.1 a tie (`[[rating_a,rating_b]]`).
    TwoRatings,
    /// Rakuda's: the last digit of the reply, 1 (the first answer), 2 (the second) or 3 (tie).
    LastDigit,
}

impl OutputFormat {
    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "[[rating]]" | "[[評価]]" => Some(OutputFormat::Rating),
            "[[A]]" => Some(OutputFormat::Choice),
            "[[rating_a,rating_b]]" => Some(OutputFormat::TwoRatings),
            "last" => Some(OutputFormat::LastDigit),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Line {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    system_prompt: String,
    prompt_template: String,
    #[serde(default)]
    output_format: String,
    #[serde(default)]
    category: String,
    /// The scale a grading prompt asks for, `{"min": 0, "max": 10}` (a shinpan addition;
    /// absent: 1-10, as FastChat's prompts ask).
    #[serde(default)]
    scale: Option<Scale>,
}

/// One upstream prompt.
#[derive(Debug, Clone)]
pub struct SetPrompt {
    /// Its upstream name (`single-v1`, `pair-v2`, `pair-ja`, …): what records carry.
    pub name: String,
    system: String,
    template: String,
    /// How its verdict is written.
    pub format: OutputFormat,
    /// The `output_format` as written (a re-ask names it).
    pub format_text: String,
    /// The scale its grades are on (grading prompts).
    pub scale: Scale,
}

/// A named set of upstream judge prompts.
#[derive(Debug, Clone)]
pub struct PromptSet {
    /// Its name (`ja-vicuna-qa`, or the file it came from).
    pub name: String,
    by_kind: BTreeMap<PromptKind, SetPrompt>,
}

/// The placeholders of a template (`{name}`; `{{` and `}}` are literal braces).
fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("a placeholder {{{name}}} that is not a name"));
                }
                out.push(name);
            }
            '}' => return Err("a lone `}`".into()),
            _ => {}
        }
    }
    Ok(out)
}

/// Fills a template as Python's `str.format` does with named fields.
fn fill(template: &str, vars: &BTreeMap<&str, &str>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                let v = vars
                    .get(name.as_str())
                    .ok_or_else(|| format!("no value for {{{name}}}"))?;
                out.push_str(v);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The variables shinpan gives a prompt of `kind`, as upstream templates name them (the
/// turn-1 reference is upstream's `ref_answer_1`).
fn upstream_names(kind: PromptKind) -> Vec<&'static str> {
    kind.variables()
        .iter()
        .map(|v| {
            if *v == "ref_answer" {
                "ref_answer_1"
            } else {
                *v
            }
        })
        .collect()
}

impl PromptSet {
    /// Reads a `judge_prompts.jsonl`; every prompt is checked (its type, its output format,
    /// and that shinpan gives every placeholder it names) before any is used.
    pub fn load(name: &str, path: &Path) -> Result<Self, PromptError> {
        let err = |line: usize, message: String| PromptError {
            origin: format!("{}:{line}", path.display()),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(0, e.to_string()))?;
        let mut by_kind: BTreeMap<PromptKind, SetPrompt> = BTreeMap::new();
        for (n, raw) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let l: Line = serde_json::from_str(raw)
                .map_err(|e| err(n + 1, format!("not a judge prompt record: {e}")))?;
            let pairwise = match l.kind.as_str() {
                "pairwise" => true,
                "single" => false,
                other => return Err(err(n + 1, format!("{}: unknown type {other:?}", l.name))),
            };
            let format = OutputFormat::parse(&l.output_format).ok_or_else(|| {
                err(
                    n + 1,
                    format!("{}: unknown output_format {:?}", l.name, l.output_format),
                )
            })?;
            let fields = placeholders(&l.prompt_template)
                .map_err(|e| err(n + 1, format!("{}: {e}", l.name)))?;
            let multi = fields.iter().any(|f| f.ends_with("_2")) || l.name.ends_with("multi-turn");
            let reference =
                fields.iter().any(|f| f.starts_with("ref_answer")) || l.category == "math";
            let kind = PromptKind::select(pairwise, reference, if multi { 2 } else { 1 });
            let given = upstream_names(kind);
            if let Some(f) = fields.iter().find(|f| !given.contains(&f.as_str())) {
                return Err(err(
                    n + 1,
                    format!(
                        "{}: shinpan has no value for {{{f}}} in a {} prompt",
                        l.name,
                        kind.name()
                    ),
                ));
            }
            let pairs_format = matches!(
                format,
                OutputFormat::Choice | OutputFormat::TwoRatings | OutputFormat::LastDigit
            );
            if pairs_format != pairwise {
                return Err(err(
                    n + 1,
                    format!(
                        "{}: output_format {} does not fit type {}",
                        l.name, l.output_format, l.kind
                    ),
                ));
            }
            let scale = match l.scale {
                Some(s) if pairwise => {
                    return Err(err(
                        n + 1,
                        format!("{}: a pairwise prompt states a scale ({s})", l.name),
                    ));
                }
                Some(s) if s.min >= s.max => {
                    return Err(err(n + 1, format!("{}: scale {s} is empty", l.name)));
                }
                Some(s) => s,
                None => Scale::TEN,
            };
            // The first prompt for a judgment wins (upstream lists its defaults first).
            by_kind.entry(kind).or_insert(SetPrompt {
                name: l.name,
                system: l.system_prompt,
                template: l.prompt_template,
                format,
                format_text: l.output_format,
                scale,
            });
        }
        if by_kind.is_empty() {
            return Err(err(0, "holds no judge prompt".into()));
        }
        // A run's grades share one scale, so the grading prompts of a set must agree.
        let mut scales = by_kind
            .iter()
            .filter(|(k, _)| !k.is_pairwise())
            .map(|(_, p)| (p.scale, p.name.as_str()));
        if let Some((first, name)) = scales.next()
            && let Some((other, other_name)) = scales.find(|(s, _)| *s != first)
        {
            return Err(err(
                0,
                format!(
                    "{name} grades {first} and {other_name} {other}: a set grades on one scale"
                ),
            ));
        }
        Ok(PromptSet {
            name: name.to_string(),
            by_kind,
        })
    }

    /// The scale its grading prompts ask for (1-10 unless they state one).
    pub fn scale(&self) -> Scale {
        self.by_kind
            .iter()
            .find(|(k, _)| !k.is_pairwise())
            .map_or(Scale::TEN, |(_, p)| p.scale)
    }

    /// The prompt for a judgment, if the set has one.
    pub fn prompt(&self, kind: PromptKind) -> Option<&SetPrompt> {
        self.by_kind.get(&kind)
    }

    /// The upstream names of the set's prompts, by the judgment each serves.
    pub fn names(&self) -> Vec<(PromptKind, &str)> {
        self.by_kind
            .iter()
            .map(|(k, p)| (*k, p.name.as_str()))
            .collect()
    }

    /// The messages of a judgment of `kind` with shinpan's variables (`ref_answer` is
    /// upstream's `ref_answer_1`).
    pub fn render(
        &self,
        kind: PromptKind,
        vars: &[(&str, &str)],
    ) -> Result<Vec<Message>, PromptError> {
        let p = self.prompt(kind).ok_or_else(|| PromptError {
            origin: format!("prompt set {}", self.name),
            message: format!("has no prompt for a {} judgment", kind.name()),
        })?;
        let mut map: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in vars {
            map.insert(
                if *k == "ref_answer" {
                    "ref_answer_1"
                } else {
                    k
                },
                v,
            );
        }
        let user = fill(&p.template, &map).map_err(|message| PromptError {
            origin: format!("prompt set {} ({})", self.name, p.name),
            message,
        })?;
        let mut messages = Vec::new();
        if !p.system.is_empty() {
            messages.push(Message::system(p.system.clone()));
        }
        messages.push(Message::user(user));
        Ok(messages)
    }
}

impl SetPrompt {
    /// Reads a rating on the prompt's scale.
    pub fn rating(&self, text: &str) -> Result<f64, VerdictError> {
        parse_rating_on(text, self.scale)
    }

    /// Reads a pairwise verdict as the prompt asks for it.
    pub fn choice(&self, text: &str) -> Result<Choice, VerdictError> {
        match self.format {
            OutputFormat::LastDigit => {
                let text = normalize(text);
                match text.chars().rev().find(char::is_ascii_digit) {
                    Some('1') => Ok(Choice::A),
                    Some('2') => Ok(Choice::B),
                    Some('3') => Ok(Choice::Tie),
                    _ => Err(VerdictError::NoTag("1, 2 or 3 on the last line")),
                }
            }
            OutputFormat::TwoRatings => {
                let text = normalize(text);
                let c = TWO_RATINGS
                    .captures_iter(&text)
                    .last()
                    .ok_or(VerdictError::NoTag("[[8, 6]]"))?;
                let (a, b): (f64, f64) = (
                    c[1].parse().unwrap_or(f64::NAN),
                    c[2].parse().unwrap_or(f64::NAN),
                );
                Ok(if (a - b).abs() <= 0.1 {
                    Choice::Tie
                } else if a > b {
                    Choice::A
                } else {
                    Choice::B
                })
            }
            _ => parse_choice(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_as_python_format_does() {
        let vars: BTreeMap<&str, &str> = [("question", "Q"), ("answer", "{x}")].into();
        assert_eq!(
            fill("[{question}] {{a}} {answer}", &vars).unwrap(),
            "[Q] {a} {x}"
        );
        assert!(fill("{missing}", &vars).is_err());
        assert_eq!(placeholders("{a} {{b}} {c_1}").unwrap(), ["a", "c_1"]);
        assert!(placeholders("{a b}").is_err());
    }

    #[test]
    fn verdicts_follow_each_output_format() {
        let p = |format| SetPrompt {
            name: "x".into(),
            system: String::new(),
            template: String::new(),
            format,
            format_text: String::new(),
            scale: Scale::TEN,
        };
        assert_eq!(
            p(OutputFormat::LastDigit).choice("理由…\n2").unwrap(),
            Choice::B
        );
        assert_eq!(
            p(OutputFormat::LastDigit)
                .choice("１と２を比べ…\n３")
                .unwrap(),
            Choice::Tie
        );
        assert!(p(OutputFormat::LastDigit).choice("決められない").is_err());
        assert_eq!(
            p(OutputFormat::TwoRatings).choice("[[8, 6]]").unwrap(),
            Choice::A
        );
        assert_eq!(
            p(OutputFormat::TwoRatings).choice("[[7,7.05]]").unwrap(),
            Choice::Tie
        );
        assert_eq!(p(OutputFormat::Choice).choice("[[B]]").unwrap(), Choice::B);
    }
}
