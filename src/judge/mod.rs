//! Judging: renders the prompt for each item, asks the judge model, reads the verdict
//! (asking again, a bounded number of times, when it cannot be read), and produces FastChat
//! judgment records. Every pairwise game is judged in both orders.

mod fence;
mod prompts;
mod sets;
pub mod verdict;

pub use fence::{fence, mask_quoted, strip_fenced};
pub use prompts::{Hint, PromptError, PromptKind, Prompts};
pub use sets::{OutputFormat, PromptSet, SetPrompt};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::{Account, ChatRequest, Client, Message, Stage};
use crate::records::{AnswerRecord, PairJudgment, Question, SingleJudgment, input_digest};
use crate::types::{JudgeId, Scale, Usage, Winner};
use crate::util::unix_now;
use verdict::{Choice, VerdictError, parse_choice, parse_rating};

/// A judge model and how to ask it.
#[derive(Clone)]
pub struct Judge {
    /// Client for the judge's endpoint.
    pub client: Client,
    /// The judge's display name (used in file names and records).
    pub name: String,
    /// The model name the API expects.
    pub api_model: String,
    /// Judge prompts.
    pub prompts: Arc<Prompts>,
    /// Output cap for one judge reply.
    pub max_tokens: u32,
    /// Sampling temperature (0 for reproducible verdicts).
    pub temperature: f32,
    /// How many times an unreadable verdict is asked for again.
    pub reasks: u32,
    /// Rubric aspects and their weights in the overall score (rubric mode).
    pub aspects: Vec<(String, f64)>,
    /// The scale every rubric aspect is graded on (`--rubric-scale`).
    pub rubric_scale: Scale,
    /// An upstream prompt set used as published (`--prompt-set`), instead of `prompts`.
    pub set: Option<Arc<PromptSet>>,
}

/// The outcome of asking for one verdict.
struct Asked<T> {
    prompt: String,
    judgment: String,
    reasks: Vec<String>,
    verdict: Result<T, String>,
    usage: Usage,
}

impl Judge {
    /// Grades one model's answer to one turn (1-based) of a question; `sample` numbers a
    /// repeated judgment.
    pub async fn single(
        &self,
        q: &Question,
        answer: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
    ) -> SingleJudgment {
        if turn == 1
            && let Some(criteria) = &q.criteria
        {
            return self.by_criteria(q, answer, criteria, sample).await;
        }
        let kind = PromptKind::select(false, q.judged_reference().is_some(), turn);
        let vars = graded_vars(q, answer, turn);
        let upstream = self.set.as_ref().and_then(|s| s.prompt(kind));
        let parse = |t: &str| match upstream {
            Some(p) => p.rating(t).map(|s| (s, None)),
            None => parse_rating(t).map(|s| (s, None)),
        };
        let scale = upstream.map_or(Scale::TEN, |p| p.scale);
        let asked = self
            .ask(kind, &vars, sample, &parse, Hint::Rating(scale))
            .await;
        self.graded_record(q, answer, turn, sample, kind, scale, asked)
    }

    /// Grades the first turn of an answer 1-5 by the question's own criteria
    /// (ELYZA-tasks-100's `eval_aspect`), its reference answer shown as an example.
    async fn by_criteria(
        &self,
        q: &Question,
        answer: &AnswerRecord,
        criteria: &str,
        sample: Option<u32>,
    ) -> SingleJudgment {
        let kind = PromptKind::Criteria;
        let vars = criteria_vars(q, answer, criteria);
        let scale = Scale::FIVE;
        let parse = |t: &str| match parse_rating(t) {
            Ok(s) if scale.contains(s) => Ok((s, None)),
            Ok(s) => Err(VerdictError::OutOfRange(format!(
                "{s} (the scale is {scale})"
            ))),
            Err(e) => Err(e),
        };
        let asked = self
            .ask(kind, &vars, sample, &parse, Hint::Rating(scale))
            .await;
        self.graded_record(q, answer, 1, sample, kind, scale, asked)
    }

    /// Grades one answer on every rubric aspect in one call; `score` is their weighted mean.
    pub async fn rubric(
        &self,
        q: &Question,
        answer: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
    ) -> SingleJudgment {
        let kind = PromptKind::rubric(turn);
        let vars = self.rubric_vars(q, answer, turn);
        let names: Vec<String> = self.aspects.iter().map(|(a, _)| a.clone()).collect();
        let total: f64 = self.aspects.iter().map(|(_, w)| w).sum();
        let scale = self.rubric_scale;
        let parse = |t: &str| {
            verdict::parse_aspects(t, &names, scale).map(|map| {
                let weighted: f64 = self.aspects.iter().map(|(a, w)| w * map[a]).sum();
                (weighted / total, Some(map))
            })
        };
        let asked = self
            .ask(kind, &vars, sample, &parse, Hint::Aspects(&names, scale))
            .await;
        self.graded_record(q, answer, turn, sample, kind, scale, asked)
    }

    /// The judgment record of a single or rubric grade, on `scale`.
    #[allow(clippy::too_many_arguments)]
    fn graded_record(
        &self,
        q: &Question,
        answer: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
        kind: PromptKind,
        scale: Scale,
        asked: Asked<(f64, Option<BTreeMap<String, f64>>)>,
    ) -> SingleJudgment {
        let (score, aspects, error) = match asked.verdict {
            Ok((s, a)) => (Some(s), a, None),
            Err(e) => (None, None, Some(e)),
        };
        SingleJudgment {
            question_id: q.question_id.clone(),
            model: answer.model_id.clone(),
            judge: JudgeId(vec![self.name.clone(), self.prompt_name(kind)]),
            user_prompt: asked.prompt,
            judgment: asked.judgment,
            score,
            scale: Some(scale),
            turn: turn as u32,
            tstamp: unix_now(),
            category: Some(q.category.clone()),
            bench: q.bench.clone(),
            error,
            sample,
            samples: Default::default(),
            aspects,
            reasks: asked.reasks,
            usage: Some(asked.usage),
            input_digest: Some(input_digest(q, &[answer], turn)),
            task: None,
        }
    }

    /// Compares two models' answers to one turn in both orders: game 1 shows `m1` first,
    /// game 2 shows `m2` first. Winners are mapped back to the models.
    pub async fn pair(
        &self,
        q: &Question,
        m1: &AnswerRecord,
        m2: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
    ) -> PairJudgment {
        let (g1, g2) = futures::join!(
            self.game(q, m1, m2, turn, sample),
            self.game(q, m2, m1, turn, sample)
        );
        let kind = PromptKind::select(true, q.judged_reference().is_some(), turn);
        let map = |v: &Result<Choice, String>, first: Winner, second: Winner| match v {
            Ok(Choice::A) => first,
            Ok(Choice::B) => second,
            Ok(Choice::Tie) => Winner::Tie,
            Err(_) => Winner::Error,
        };
        let mut usage = g1.usage;
        usage += g2.usage;
        PairJudgment {
            question_id: q.question_id.clone(),
            model_1: m1.model_id.clone(),
            model_2: m2.model_id.clone(),
            g1_winner: map(&g1.verdict, Winner::Model1, Winner::Model2),
            g2_winner: map(&g2.verdict, Winner::Model2, Winner::Model1),
            judge: JudgeId(vec![self.name.clone(), self.prompt_name(kind)]),
            g1_error: g1.verdict.as_ref().err().cloned(),
            g2_error: g2.verdict.as_ref().err().cloned(),
            g1_user_prompt: g1.prompt,
            g1_judgment: join_reasks(g1.judgment, &g1.reasks),
            g2_user_prompt: g2.prompt,
            g2_judgment: join_reasks(g2.judgment, &g2.reasks),
            turn: turn as u32,
            tstamp: unix_now(),
            category: Some(q.category.clone()),
            bench: q.bench.clone(),
            sample,
            samples: Default::default(),
            usage: Some(usage),
            input_digest: Some(input_digest(q, &[m1, m2], turn)),
        }
    }

    /// One order of a pairwise game: `a` is shown as assistant A.
    async fn game(
        &self,
        q: &Question,
        a: &AnswerRecord,
        b: &AnswerRecord,
        turn: usize,
        sample: Option<u32>,
    ) -> Asked<Choice> {
        let (kind, vars) = game_vars(q, a, b, turn);
        let upstream = self.set.as_ref().and_then(|s| s.prompt(kind));
        let parse = |t: &str| match upstream {
            Some(p) => p.choice(t),
            None => parse_choice(t),
        };
        self.ask(kind, &vars, sample, &parse, Hint::Choice).await
    }

    /// The messages judging one item sends first (before any re-ask): one conversation for
    /// a grade of `answers[0]`, two for a game of `answers[0]` and `answers[1]` (both
    /// orders); `rubric` grades on the rubric's aspects. What `shinpan estimate` counts.
    pub fn first_prompts(
        &self,
        q: &Question,
        answers: &[&AnswerRecord],
        turn: usize,
        rubric: bool,
    ) -> Result<Vec<Vec<Message>>, PromptError> {
        let asks: Vec<(PromptKind, Vec<(String, String)>)> = match answers {
            [a] if rubric => vec![(PromptKind::rubric(turn), self.rubric_vars(q, a, turn))],
            [a] if turn == 1 && q.criteria.is_some() => vec![(
                PromptKind::Criteria,
                criteria_vars(q, a, q.criteria.as_deref().unwrap_or_default()),
            )],
            [a] => vec![(
                PromptKind::select(false, q.judged_reference().is_some(), turn),
                graded_vars(q, a, turn),
            )],
            [a, b, ..] => vec![game_vars(q, a, b, turn), game_vars(q, b, a, turn)],
            [] => Vec::new(),
        };
        asks.iter().map(|(k, v)| self.render(*k, v)).collect()
    }

    /// The name judgment records give the prompt of `kind`: the upstream set's (`pair-v2`,
    /// `single-math-v1`, …) when one is used, else shinpan's template name.
    fn prompt_name(&self, kind: PromptKind) -> String {
        match self.set.as_ref().and_then(|s| s.prompt(kind)) {
            Some(p) => p.name.clone(),
            None => kind.name().to_string(),
        }
    }

    /// A judge prompt's messages.
    fn render(
        &self,
        kind: PromptKind,
        vars: &[(String, String)],
    ) -> Result<Vec<Message>, PromptError> {
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // The set's prompt where it has one; shinpan's for a judgment it lacks.
        if let Some(set) = self.set.as_ref().filter(|s| s.prompt(kind).is_some()) {
            return set.render(kind, &refs);
        }
        let names: Vec<String> = self.aspects.iter().map(|(a, _)| a.clone()).collect();
        self.prompts.render(kind, &refs, &names)
    }
}

/// What one order of a game shows (`a` as assistant A), and its prompt kind.
fn game_vars(
    q: &Question,
    a: &AnswerRecord,
    b: &AnswerRecord,
    turn: usize,
) -> (PromptKind, Vec<(String, String)>) {
    {
        let reference = q.judged_reference();
        let kind = PromptKind::select(true, reference.is_some(), turn);
        let mut vars: Vec<(String, String)> = Vec::new();
        if turn == 1 {
            vars.push(("question".into(), q.turns[0].clone()));
            vars.push((
                "answer_a".into(),
                a.turns().first().cloned().unwrap_or_default(),
            ));
            vars.push((
                "answer_b".into(),
                b.turns().first().cloned().unwrap_or_default(),
            ));
            if let Some(r) = reference {
                vars.push(("ref_answer".into(), r[0].clone()));
            }
        } else {
            push_conversation(&mut vars, q, a.turns(), "answer_a_", true);
            push_conversation(&mut vars, q, b.turns(), "answer_b_", false);
            if let Some(r) = reference {
                push_refs(&mut vars, r);
            }
        }
        (kind, vars)
    }
}

impl Judge {
    /// How a re-ask names the verdict: an upstream prompt's own `output_format` (Rakuda's
    /// "last digit" told in words), else shinpan's `verdict-format.tera`. The template was
    /// rendered with every kind of hint when it was loaded.
    fn format_hint(&self, kind: PromptKind, hint: Hint<'_>) -> Result<String, PromptError> {
        let hint = match self.set.as_ref().and_then(|s| s.prompt(kind)) {
            Some(p) if p.format == sets::OutputFormat::LastDigit => Hint::LastDigit,
            Some(p) => return Ok(p.format_text.clone()),
            None => hint,
        };
        self.prompts.hint(hint)
    }

    /// Sends a judge prompt and reads the verdict, asking again (continuing the same
    /// conversation) when the reply has no readable verdict.
    async fn ask<T>(
        &self,
        kind: PromptKind,
        vars: &[(String, String)],
        sample: Option<u32>,
        parse: &(dyn Fn(&str) -> Result<T, VerdictError> + Sync),
        hint: Hint<'_>,
    ) -> Asked<T> {
        let names: Vec<String> = self.aspects.iter().map(|(a, _)| a.clone()).collect();
        // The answers the prompt shows: a tag the judge quotes from one is not its verdict.
        let shown: Vec<&str> = vars
            .iter()
            .filter(|(k, _)| k.starts_with("answer"))
            .map(|(_, v)| v.as_str())
            .collect();
        let mut messages = match self.render(kind, vars) {
            Ok(m) => m,
            Err(e) => return Asked::failed(String::new(), e.to_string()),
        };
        let format = match self.format_hint(kind, hint) {
            Ok(f) => f,
            Err(e) => return Asked::failed(String::new(), e.to_string()),
        };
        let prompt = messages
            .iter()
            .find(|m| m.role == crate::client::Role::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        // A server that constrains output to a schema gets one: the verdict then comes as
        // JSON, and the tag parser still reads a reply that is not. Asked again, the judge
        // gives the verdict alone, as the re-ask prompt says.
        // Upstream prompts are used as published: no schema beside them.
        let upstream = self.set.as_ref().is_some_and(|s| s.prompt(kind).is_some());
        let structured = self.client.config().structured_verdicts && !upstream;
        // Without upstream prompts, per-item criteria grade on 1-5, a rubric on its own scale,
        // the rest on 1-10.
        let scale = match kind {
            PromptKind::Criteria => Scale::FIVE,
            PromptKind::Rubric | PromptKind::RubricMulti => self.rubric_scale,
            _ => Scale::TEN,
        };
        let schema_for = |round: u32| {
            structured.then(|| verdict::schema(kind.asks(), &names, round == 0, scale))
        };
        let mut usage = Usage::default();
        let mut judgment = String::new();
        let mut reasks = Vec::new();
        for round in 0..=self.reasks {
            let req = ChatRequest {
                model: self.api_model.clone(),
                messages: messages.clone(),
                temperature: self.temperature,
                max_tokens: self.max_tokens,
                sample,
                json_schema: schema_for(round),
                account: Some(Account {
                    model: self.name.clone(),
                    stage: Stage::Judge,
                }),
            };
            let reply = match self.client.chat(&req).await {
                Ok(r) => r,
                Err(e) => {
                    return Asked {
                        prompt,
                        judgment,
                        reasks,
                        verdict: Err(format!("judge request failed: {e}")),
                        usage,
                    };
                }
            };
            usage += reply.usage;
            if round == 0 {
                judgment = reply.content.clone();
            } else {
                reasks.push(reply.content.clone());
            }
            // The judge's own reasoning (a think block, or `reasoning_content`) is kept in the
            // judgment but never read for the verdict, and neither are answers it quoted back.
            let decided = crate::reasoning::split(&reply.content).answer;
            let parsed = parse(&mask_quoted(&strip_fenced(decided), &shown));
            if parsed.is_err() {
                self.client.forget(&req).await;
            }
            match parsed {
                Ok(v) => {
                    return Asked {
                        prompt,
                        judgment,
                        reasks,
                        verdict: Ok(v),
                        usage,
                    };
                }
                Err(e) if round == self.reasks => {
                    let tries = round + 1;
                    return Asked {
                        prompt,
                        judgment,
                        reasks,
                        verdict: Err(format!("unparsable verdict after {tries} replies: {e}")),
                        usage,
                    };
                }
                Err(_) => {
                    // Asked again, it sees its answer, not its thinking.
                    let said = crate::reasoning::split(&reply.content).answer.to_string();
                    messages.push(Message::assistant(said));
                    match self.prompts.reask(&format) {
                        Ok(m) => messages.push(m),
                        Err(e) => return Asked::failed(prompt, e.to_string()),
                    }
                }
            }
        }
        unreachable!("the loop returns on its last round")
    }
}

impl<T> Asked<T> {
    fn failed(prompt: String, error: String) -> Self {
        Asked {
            prompt,
            judgment: String::new(),
            reasks: Vec::new(),
            verdict: Err(error),
            usage: Usage::default(),
        }
    }
}

/// The variables of a grading prompt for one turn. Reference variables are always given
/// (empty without a reference): templates that do not show one simply do not use them.
/// What a grade by the question's own criteria shows.
fn criteria_vars(q: &Question, answer: &AnswerRecord, criteria: &str) -> Vec<(String, String)> {
    let reference = q
        .reference
        .as_ref()
        .and_then(|r| r.first().cloned())
        .unwrap_or_else(|| "（なし）".to_string());
    vec![
        ("question".into(), q.turns[0].clone()),
        (
            "answer".into(),
            answer.turns().first().cloned().unwrap_or_default(),
        ),
        ("ref_answer".into(), reference),
        ("criteria".into(), criteria.to_string()),
    ]
}

impl Judge {
    /// What a rubric prompt shows: the graded answer's, and the scale of every aspect.
    fn rubric_vars(&self, q: &Question, a: &AnswerRecord, turn: usize) -> Vec<(String, String)> {
        let mut vars = graded_vars(q, a, turn);
        vars.push(("scale_min".into(), self.rubric_scale.min.to_string()));
        vars.push(("scale_max".into(), self.rubric_scale.max.to_string()));
        vars
    }
}

fn graded_vars(q: &Question, answer: &AnswerRecord, turn: usize) -> Vec<(String, String)> {
    let reference = q.judged_reference();
    let a = answer.turns();
    let mut vars: Vec<(String, String)> = Vec::new();
    if turn == 1 {
        vars.push(("question".into(), q.turns[0].clone()));
        vars.push(("answer".into(), a.first().cloned().unwrap_or_default()));
        let r = reference.map(|r| r[0].clone()).unwrap_or_default();
        vars.push(("ref_answer".into(), r));
    } else {
        push_conversation(&mut vars, q, a, "answer_", true);
        push_refs(&mut vars, reference.unwrap_or(&[]));
    }
    vars
}

fn push_conversation(
    vars: &mut Vec<(String, String)>,
    q: &Question,
    answers: &[String],
    prefix: &str,
    with_questions: bool,
) {
    if with_questions {
        vars.push(("question_1".into(), q.turns[0].clone()));
        vars.push((
            "question_2".into(),
            q.turns.get(1).cloned().unwrap_or_default(),
        ));
    }
    for i in 0..2 {
        vars.push((
            format!("{prefix}{}", i + 1),
            answers.get(i).cloned().unwrap_or_default(),
        ));
    }
}

fn push_refs(vars: &mut Vec<(String, String)>, r: &[String]) {
    vars.push((
        "ref_answer_1".into(),
        r.first().cloned().unwrap_or_default(),
    ));
    vars.push(("ref_answer_2".into(), r.get(1).cloned().unwrap_or_default()));
}

/// FastChat keeps one judgment text per game; re-asked replies are appended to it, marked.
fn join_reasks(judgment: String, reasks: &[String]) -> String {
    let mut out = judgment;
    for r in reasks {
        out.push_str("\n\n[再質問への回答]\n");
        out.push_str(r);
    }
    out
}
