//! Judge prompts: tera templates compiled into the binary from `prompts/`, each overridable by
//! a file of the same name in a user directory. Every template is test-rendered when loaded,
//! so a misspelt variable is reported with its file name before any request is sent.

use std::path::{Path, PathBuf};

use tera::{Context, Tera};

use super::fence::fence;
use crate::client::Message;

/// The judge prompt to use for one judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PromptKind {
    Single,
    SingleRef,
    SingleMulti,
    SingleRefMulti,
    Pair,
    PairRef,
    PairMulti,
    PairRefMulti,
    Rubric,
    RubricMulti,
    /// A 1-5 grade by the question's own criteria (ELYZA-tasks-100's `eval_aspect`).
    Criteria,
}

impl PromptKind {
    /// Every judging prompt.
    pub const ALL: [PromptKind; 11] = [
        PromptKind::Single,
        PromptKind::SingleRef,
        PromptKind::SingleMulti,
        PromptKind::SingleRefMulti,
        PromptKind::Pair,
        PromptKind::PairRef,
        PromptKind::PairMulti,
        PromptKind::PairRefMulti,
        PromptKind::Rubric,
        PromptKind::RubricMulti,
        PromptKind::Criteria,
    ];

    /// Picks the prompt for a mode, whether a reference is used, and the turn judged.
    pub fn select(pairwise: bool, reference: bool, turn: usize) -> Self {
        match (pairwise, reference, turn > 1) {
            (false, false, false) => PromptKind::Single,
            (false, true, false) => PromptKind::SingleRef,
            (false, false, true) => PromptKind::SingleMulti,
            (false, true, true) => PromptKind::SingleRefMulti,
            (true, false, false) => PromptKind::Pair,
            (true, true, false) => PromptKind::PairRef,
            (true, false, true) => PromptKind::PairMulti,
            (true, true, true) => PromptKind::PairRefMulti,
        }
    }

    /// The multi-aspect prompt for a turn (the reference, when any, is shown inside it).
    pub fn rubric(turn: usize) -> Self {
        if turn > 1 {
            PromptKind::RubricMulti
        } else {
            PromptKind::Rubric
        }
    }

    /// The template's name: its file is `<name>.tera`, and judgments record it.
    pub fn name(self) -> &'static str {
        match self {
            PromptKind::Single => "single",
            PromptKind::SingleRef => "single-ref",
            PromptKind::SingleMulti => "single-multi",
            PromptKind::SingleRefMulti => "single-ref-multi",
            PromptKind::Pair => "pair",
            PromptKind::PairRef => "pair-ref",
            PromptKind::PairMulti => "pair-multi",
            PromptKind::PairRefMulti => "pair-ref-multi",
            PromptKind::Rubric => "rubric",
            PromptKind::RubricMulti => "rubric-multi",
            PromptKind::Criteria => "criteria",
        }
    }

    /// Whether the verdict is a pairwise choice rather than a rating.
    pub fn is_pairwise(self) -> bool {
        matches!(
            self,
            PromptKind::Pair
                | PromptKind::PairRef
                | PromptKind::PairMulti
                | PromptKind::PairRefMulti
        )
    }

    /// What the prompt asks the judge for.
    pub fn asks(self) -> super::verdict::Asks {
        use super::verdict::Asks;
        match self {
            _ if self.is_pairwise() => Asks::Choice,
            PromptKind::Rubric | PromptKind::RubricMulti => Asks::Aspects,
            _ => Asks::Rating,
        }
    }

    /// The variables a prompt of this kind is given (the built-in templates are test-rendered
    /// with them when loaded; upstream prompt sets are checked against them).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            PromptKind::Single => &["question", "answer"],
            PromptKind::SingleRef => &["question", "answer", "ref_answer"],
            PromptKind::SingleMulti => &["question_1", "answer_1", "question_2", "answer_2"],
            PromptKind::SingleRefMulti => &[
                "question_1",
                "answer_1",
                "question_2",
                "answer_2",
                "ref_answer_1",
                "ref_answer_2",
            ],
            PromptKind::Pair => &["question", "answer_a", "answer_b"],
            PromptKind::PairRef => &["question", "answer_a", "answer_b", "ref_answer"],
            PromptKind::PairMulti => &[
                "question_1",
                "question_2",
                "answer_a_1",
                "answer_a_2",
                "answer_b_1",
                "answer_b_2",
            ],
            PromptKind::PairRefMulti => &[
                "question_1",
                "question_2",
                "answer_a_1",
                "answer_a_2",
                "answer_b_1",
                "answer_b_2",
                "ref_answer_1",
                "ref_answer_2",
            ],
            PromptKind::Rubric => &["question", "answer", "ref_answer", "scale_min", "scale_max"],
            PromptKind::Criteria => &["question", "answer", "ref_answer", "criteria"],
            PromptKind::RubricMulti => &[
                "question_1",
                "answer_1",
                "question_2",
                "answer_2",
                "ref_answer_1",
                "ref_answer_2",
                "scale_min",
                "scale_max",
            ],
        }
    }
}

const BUILTIN: &[(&str, &str)] = &[
    ("system", include_str!("../../prompts/system.tera")),
    ("reask", include_str!("../../prompts/reask.tera")),
    (
        "verdict-format",
        include_str!("../../prompts/verdict-format.tera"),
    ),
    ("single", include_str!("../../prompts/single.tera")),
    ("single-ref", include_str!("../../prompts/single-ref.tera")),
    (
        "single-multi",
        include_str!("../../prompts/single-multi.tera"),
    ),
    (
        "single-ref-multi",
        include_str!("../../prompts/single-ref-multi.tera"),
    ),
    ("pair", include_str!("../../prompts/pair.tera")),
    ("pair-ref", include_str!("../../prompts/pair-ref.tera")),
    ("pair-multi", include_str!("../../prompts/pair-multi.tera")),
    ("criteria", include_str!("../../prompts/criteria.tera")),
    (
        "pair-ref-multi",
        include_str!("../../prompts/pair-ref-multi.tera"),
    ),
    ("rubric", include_str!("../../prompts/rubric.tera")),
    (
        "rubric-multi",
        include_str!("../../prompts/rubric-multi.tera"),
    ),
];

/// The verdict a re-ask asks for.
#[derive(Debug, Clone, Copy)]
pub enum Hint<'a> {
    /// A grade on a scale.
    Rating(crate::types::Scale),
    /// `[[A]]`, `[[B]]` or `[[C]]`.
    Choice,
    /// One grade per rubric aspect, as JSON.
    Aspects(&'a [String], crate::types::Scale),
    /// 1, 2 or 3 on the last line (Rakuda's prompts).
    LastDigit,
}

/// A template that could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
#[error("prompt template {origin}: {message}")]
pub struct PromptError {
    pub(super) origin: String,
    pub(super) message: String,
}

/// The loaded set of judge prompts.
#[derive(Debug)]
pub struct Prompts {
    tera: Tera,
    /// Where each template came from (file path or `built-in`), by name.
    origins: Vec<(String, String)>,
}

impl Prompts {
    /// The built-in prompts.
    pub fn builtin() -> Self {
        Self::load(None).expect("built-in prompts render")
    }

    /// Built-in prompts, each replaced by `<dir>/<name>.tera` where that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Self, PromptError> {
        let mut tera = Tera::default();
        tera.register_filter("fence", fence_filter);
        let mut origins = Vec::new();
        for (name, text) in BUILTIN {
            let (origin, source) = match dir.map(|d| d.join(format!("{name}.tera"))) {
                Some(path) if path.exists() => {
                    let text = std::fs::read_to_string(&path).map_err(|e| PromptError {
                        origin: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                    (path.display().to_string(), text)
                }
                _ => (format!("built-in {name}.tera"), text.to_string()),
            };
            tera.add_raw_template(name, &source)
                .map_err(|e| PromptError {
                    origin: origin.clone(),
                    message: crate::util::error_chain(&e),
                })?;
            origins.push((name.to_string(), origin));
        }
        if let Some(dir) = dir {
            check_unknown_files(dir)?;
        }
        let prompts = Self { tera, origins };
        prompts.check()?;
        Ok(prompts)
    }

    fn origin(&self, name: &str) -> String {
        self.origins
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| name.to_string())
    }

    fn check(&self) -> Result<(), PromptError> {
        for kind in PromptKind::ALL {
            let mut ctx = Context::new();
            for v in kind.variables() {
                ctx.insert(*v, "x");
            }
            ctx.insert("aspects", &["有用性", "正確性"]);
            self.render_named(kind.name(), &ctx)?;
        }
        let mut ctx = Context::new();
        ctx.insert("format", "[[A]]");
        self.render_named("reask", &ctx)?;
        for hint in [
            Hint::Rating(crate::types::Scale::TEN),
            Hint::Choice,
            Hint::Aspects(&["有用性".to_string()], crate::types::Scale::TEN),
            Hint::LastDigit,
        ] {
            self.hint(hint)?;
        }
        self.render_named("system", &Context::new())?;
        Ok(())
    }

    fn render_named(&self, name: &str, ctx: &Context) -> Result<String, PromptError> {
        self.tera.render(name, ctx).map_err(|e| PromptError {
            origin: self.origin(name),
            message: crate::util::error_chain(&e),
        })
    }

    /// Renders the system and user messages of one judge request; `aspects` is the rubric's
    /// list of aspects (empty for other prompts).
    pub fn render(
        &self,
        kind: PromptKind,
        vars: &[(&str, &str)],
        aspects: &[String],
    ) -> Result<Vec<Message>, PromptError> {
        let mut ctx = Context::new();
        for (k, v) in vars {
            ctx.insert(*k, v);
        }
        ctx.insert("aspects", aspects);
        let system = self.render_named("system", &Context::new())?;
        let user = self.render_named(kind.name(), &ctx)?;
        Ok(vec![
            Message::system(system.trim_end()),
            Message::user(user.trim_end()),
        ])
    }

    /// How a re-ask names the verdict it wants (`verdict-format.tera`).
    pub fn hint(&self, hint: Hint<'_>) -> Result<String, PromptError> {
        let mut ctx = Context::new();
        match hint {
            Hint::Rating(scale) => {
                ctx.insert("asks", "rating");
                ctx.insert("min", &scale.min);
                ctx.insert("max", &scale.max);
                // An example in the middle of the scale (5 on 1-10, 3 on 1-5).
                ctx.insert(
                    "example",
                    &((u16::from(scale.min) + u16::from(scale.max)) / 2),
                );
            }
            Hint::Choice => ctx.insert("asks", "choice"),
            Hint::Aspects(aspects, scale) => {
                ctx.insert("asks", "aspects");
                ctx.insert("aspects", aspects);
                ctx.insert("min", &scale.min);
                ctx.insert("max", &scale.max);
            }
            Hint::LastDigit => ctx.insert("asks", "last-digit"),
        }
        Ok(self
            .render_named("verdict-format", &ctx)?
            .trim()
            .to_string())
    }

    /// The follow-up message that asks a judge to restate an unparsable verdict.
    pub fn reask(&self, format: &str) -> Result<Message, PromptError> {
        let mut ctx = Context::new();
        ctx.insert("format", format);
        Ok(Message::user(self.render_named("reask", &ctx)?.trim_end()))
    }
}

fn fence_filter(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    match value {
        tera::Value::String(s) => Ok(tera::Value::String(fence(s))),
        other => Err(tera::Error::msg(format!(
            "the fence filter takes text, not {other}"
        ))),
    }
}

fn check_unknown_files(dir: &Path) -> Result<(), PromptError> {
    let entries = std::fs::read_dir(dir).map_err(|e| PromptError {
        origin: dir.display().to_string(),
        message: format!("cannot read the prompt directory (--prompts): {e}"),
    })?;
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".tera"))
        else {
            continue;
        };
        if !BUILTIN.iter().any(|(n, _)| *n == stem) {
            let known: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            return Err(PromptError {
                origin: path.display().to_string(),
                message: format!(
                    "not a known prompt name; expected one of {}",
                    known.join(", ")
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_prompt_names_the_verdict_format_it_is_recognised_by() {
        use super::super::verdict::recognise;
        let p = Prompts::builtin();
        let names = ["有用性".to_string()];
        for kind in PromptKind::ALL {
            let vars: Vec<(&str, &str)> = kind.variables().iter().map(|v| (*v, "x")).collect();
            let user = &p.render(kind, &vars, &names).unwrap()[1].content;
            assert_eq!(recognise(user), Some(kind.asks()), "{}", kind.name());
        }
    }

    #[test]
    fn builtin_pair_prompt_renders_both_answers_fenced() {
        let p = Prompts::builtin();
        let msgs = p
            .render(
                PromptKind::Pair,
                &[
                    ("question", "富士山の高さは？"),
                    ("answer_a", "3776m"),
                    ("answer_b", "知りません"),
                ],
                &[],
            )
            .unwrap();
        insta::assert_snapshot!(msgs[1].content);
    }

    #[test]
    fn a_misspelt_variable_names_the_override_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("single.tera"), "{{ questoin }} [[評価]]").unwrap();
        let err = Prompts::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            err.contains("single.tera") && err.contains("questoin"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_template_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("singel.tera"), "x").unwrap();
        let err = Prompts::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            err.contains("singel.tera") && err.contains("expected one of"),
            "{err}"
        );
    }
}
