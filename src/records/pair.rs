//! Pairwise judgments, FastChat's `<judge>_pair.jsonl`: both orders of one game. Game 1
//! shows `model_1` as assistant A, game 2 shows `model_2` as A; winners are already mapped
//! back to the models. [`PairJudgment`] is the whole record, as written; [`PairGame`] reads
//! only what aggregation counts. ja-vicuna-qa's files (`judge_model`, embedded `answer_1`,
//! `answer_2`, `question`, no `turn`) read too.

use serde::{Deserialize, Serialize};

use super::current::{ItemKey, Judgment, Played};
use super::digest::{InputDigest, lenient_digest};
use super::single::present;
use super::text::{TextStats, stats_of_text};
use super::{JudgeName, Name, Samples};
use crate::types::{JudgeId, QuestionId, Usage, Winner};

fn default_turn() -> u32 {
    1
}

/// Both orders of one pairwise game, as written to the judgment files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairJudgment {
    /// The question, spelt as the question file spells it.
    pub question_id: QuestionId,
    /// The first model of the pair.
    pub model_1: String,
    /// The second model of the pair.
    pub model_2: String,
    /// Winner of game 1 (model_1 shown first).
    pub g1_winner: Winner,
    /// Winner of game 2 (model_2 shown first).
    pub g2_winner: Winner,
    /// `[judge_model, prompt_name]`.
    #[serde(default, alias = "judge_model")]
    pub judge: JudgeId,
    /// Prompt of game 1.
    #[serde(default)]
    pub g1_user_prompt: String,
    /// Judge's reply in game 1.
    #[serde(default)]
    pub g1_judgment: String,
    /// Prompt of game 2.
    #[serde(default)]
    pub g2_user_prompt: String,
    /// Judge's reply in game 2.
    #[serde(default)]
    pub g2_judgment: String,
    /// The turn compared (1-based).
    #[serde(default = "default_turn", deserialize_with = "super::integral_u32")]
    pub turn: u32,
    /// Unix time of the judgment.
    #[serde(default)]
    pub tstamp: f64,
    /// The question's category (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The official set and version it belongs to (`--bench`: `NAME@VARIANT VERSION`;
    /// shinpan extension), so results of different versions are never mixed silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// Which of `--judge-samples` repeated judgments this is (journal records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u32>,
    /// The verdicts `[g1, g2]` of the repeated judgments this record stands for; each order
    /// here is their majority (shinpan extension).
    #[serde(default, skip_serializing_if = "Samples::is_empty")]
    pub samples: Samples<[Winner; 2]>,
    /// Why game 1 has no verdict (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g1_error: Option<String>,
    /// Why game 2 has no verdict (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g2_error: Option<String>,
    /// Judge tokens spent on both games (shinpan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Digest of what was judged (shinpan extension, see [`super::input_digest`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_digest"
    )]
    pub input_digest: Option<InputDigest>,
}

/// The parts of a pairwise judgment that aggregation reads.
#[derive(Debug, Clone, Deserialize)]
pub struct PairGame {
    /// The question.
    pub question_id: QuestionId,
    /// Shown first in game 1.
    pub model_1: Name,
    /// Shown first in game 2.
    pub model_2: Name,
    /// Winner with model_1 shown first.
    pub g1_winner: Winner,
    /// Winner with model_2 shown first.
    pub g2_winner: Winner,
    /// The judge.
    #[serde(default, alias = "judge_model")]
    pub judge: JudgeName,
    /// The turn (1-based).
    #[serde(default = "default_turn", deserialize_with = "super::integral_u32")]
    pub turn: u32,
    /// The question's category, when recorded.
    #[serde(default)]
    pub category: Option<Name>,
    /// The official set and version (`--bench`), when recorded.
    #[serde(default)]
    pub bench: Option<Name>,
    /// Length and language of model_1's answer, when the record embeds it (ja-vicuna-qa).
    #[serde(default, deserialize_with = "stats_of_text")]
    pub answer_1: Option<TextStats>,
    /// Length and language of model_2's answer, when embedded.
    #[serde(default, deserialize_with = "stats_of_text")]
    pub answer_2: Option<TextStats>,
    /// Language of the question, when embedded.
    #[serde(default, deserialize_with = "stats_of_text")]
    pub question: Option<TextStats>,
    /// Index of a repeated judgment (`--judge-samples`).
    #[serde(default)]
    pub sample: Option<u32>,
    /// Verdicts of the repeated judgments a collapsed record stands for.
    #[serde(default)]
    pub samples: Samples<[Winner; 2]>,
    /// Judged in one order only (Rakuda's records: `model_1` shown first): the game's
    /// outcome is that order's, and it says nothing of position consistency.
    #[serde(skip)]
    pub one_order: bool,
    /// model_2's share of a continuous preference (0 to 1), for a verdict that gives one
    /// (AlpacaEval's weighted annotations); the winners are then its rounding.
    #[serde(skip)]
    pub preference: Option<f64>,
    /// How many battles each order's verdict counts as in Arena-Hard-Auto's scoring (3 for a
    /// strong verdict, `A>>B`; 1 otherwise); `[0, 0]` for records of other formats.
    #[serde(skip)]
    pub battles: [u8; 2],
    /// Whether shinpan recorded why game 1 has no verdict (the text is not kept).
    #[serde(default, rename = "g1_error", deserialize_with = "present")]
    pub g1_failed: bool,
    /// Whether shinpan recorded why game 2 has no verdict.
    #[serde(default, rename = "g2_error", deserialize_with = "present")]
    pub g2_failed: bool,
    /// Digest of the judged inputs (shinpan's records only).
    #[serde(default, deserialize_with = "lenient_digest")]
    pub input_digest: Option<InputDigest>,
}

impl PairGame {
    /// A game read from another tool's records: its question, players, each order's verdict
    /// and judge, on turn 1, with nothing else known (no answers, no samples, no digest).
    fn read(
        question_id: QuestionId,
        model_1: &str,
        model_2: &str,
        [g1_winner, g2_winner]: [Winner; 2],
        judge: &str,
    ) -> Self {
        PairGame {
            question_id,
            model_1: Name::intern(model_1),
            model_2: Name::intern(model_2),
            g1_winner,
            g2_winner,
            judge: JudgeName(Name::intern(judge)),
            turn: 1,
            category: None,
            bench: None,
            answer_1: None,
            answer_2: None,
            question: None,
            sample: None,
            samples: Default::default(),
            one_order: false,
            preference: None,
            battles: [0, 0],
            g1_failed: g1_winner == Winner::Error,
            g2_failed: g2_winner == Winner::Error,
            input_digest: None,
        }
    }
}

impl From<&PairJudgment> for PairGame {
    fn from(j: &PairJudgment) -> Self {
        PairGame {
            question_id: j.question_id.clone(),
            model_1: Name::intern(&j.model_1),
            model_2: Name::intern(&j.model_2),
            g1_winner: j.g1_winner,
            g2_winner: j.g2_winner,
            judge: JudgeName(Name::intern(j.judge.model())),
            turn: j.turn,
            category: j.category.as_deref().map(Name::intern),
            bench: j.bench.as_deref().map(Name::intern),
            answer_1: None,
            answer_2: None,
            question: None,
            one_order: false,
            preference: None,
            battles: [0, 0],
            sample: j.sample,
            samples: j.samples.clone(),
            g1_failed: j.g1_error.is_some(),
            g2_failed: j.g2_error.is_some(),
            input_digest: j.input_digest,
        }
    }
}

/// The [`Judgment`] view of both pairwise record types: they differ only in how a recorded
/// failure shows (the reason's text, or only its presence).
macro_rules! game {
    ($t:ty, $failed:expr) => {
        impl Judgment for $t {
            fn key(&self) -> ItemKey<'_> {
                ItemKey {
                    question: self.question_id.as_str(),
                    model_1: &self.model_1,
                    model_2: &self.model_2,
                    turn: self.turn,
                    judge: self.judge.model(),
                }
            }
            fn sample(&self) -> Option<u32> {
                self.sample
            }
            fn digest(&self) -> Option<InputDigest> {
                self.input_digest
            }
            fn game_winners(&self) -> Option<[Winner; 2]> {
                Some([self.g1_winner, self.g2_winner])
            }
            fn bench(&self) -> Option<&str> {
                self.bench.as_deref()
            }
            fn has_verdict(&self) -> bool {
                self.g1_winner != Winner::Error && self.g2_winner != Winner::Error
            }
            fn recorded_failure(&self) -> bool {
                $failed(self)
            }
        }
    };
}

game!(PairJudgment, |j: &PairJudgment| j.g1_error.is_some()
    || j.g2_error.is_some());
game!(PairGame, |g: &PairGame| g.g1_failed || g.g2_failed);

impl Played for PairJudgment {
    fn winners(&self) -> [Winner; 2] {
        [self.g1_winner, self.g2_winner]
    }
    fn set_collapsed(&mut self, winners: [Winner; 2], samples: Vec<[Winner; 2]>, from: [&Self; 2]) {
        self.sample = None;
        self.samples = samples.into();
        [self.g1_winner, self.g2_winner] = winners;
        self.g1_user_prompt = from[0].g1_user_prompt.clone();
        self.g1_judgment = from[0].g1_judgment.clone();
        self.g1_error = from[0].g1_error.clone();
        self.g2_user_prompt = from[1].g2_user_prompt.clone();
        self.g2_judgment = from[1].g2_judgment.clone();
        self.g2_error = from[1].g2_error.clone();
        if winners[0] == Winner::Error && self.g1_error.is_none() {
            self.g1_error = Some("no sample had a verdict".into());
        }
        if winners[1] == Winner::Error && self.g2_error.is_none() {
            self.g2_error = Some("no sample had a verdict".into());
        }
    }
}

impl Played for PairGame {
    fn winners(&self) -> [Winner; 2] {
        [self.g1_winner, self.g2_winner]
    }
    fn set_collapsed(&mut self, winners: [Winner; 2], samples: Vec<[Winner; 2]>, _: [&Self; 2]) {
        self.sample = None;
        self.samples = samples.into();
        [self.g1_winner, self.g2_winner] = winners;
        self.g1_failed = winners[0] == Winner::Error;
        self.g2_failed = winners[1] == Winner::Error;
    }
}

/// One of Rakuda's published pairwise judgments (yuzu-ai/japanese-llm-ranking): one order,
/// `model1_id` shown first. `winner` is `model1_id`, `model2_id`, `tie` or `error`, or with
/// Rakuda's own prompt the digit it read: 1 (the first), 2 (the second), 3 (a tie).
#[derive(Debug, Deserialize)]
pub struct RakudaJudgment {
    question_id: QuestionId,
    model1_id: String,
    model2_id: String,
    winner: serde_json::Value,
    #[serde(default)]
    judge: JudgeName,
    #[serde(default = "default_turn", deserialize_with = "super::integral_u32")]
    turn: u32,
}

impl RakudaJudgment {
    /// The game it records, as shinpan counts games: that one order's verdict.
    pub fn game(&self) -> PairGame {
        let w = match &self.winner {
            serde_json::Value::String(s) => match s.as_str() {
                "model1_id" | "1" => Winner::Model1,
                "model2_id" | "2" => Winner::Model2,
                "tie" | "3" => Winner::Tie,
                _ => Winner::Error,
            },
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(1) => Winner::Model1,
                Some(2) => Winner::Model2,
                Some(3) => Winner::Tie,
                _ => Winner::Error,
            },
            _ => Winner::Error,
        };
        PairGame {
            judge: self.judge.clone(),
            turn: self.turn,
            one_order: true,
            ..PairGame::read(
                self.question_id.clone(),
                &self.model1_id,
                &self.model2_id,
                [w, w],
                "",
            )
        }
    }
}

/// One of AlpacaEval's published annotations (`results/<model>/<annotator>/annotations.json`,
/// a JSON array): `output_1` by `generator_1` (the baseline) against `output_2` by
/// `generator_2`, judged in one order, `preference` from 1 (output_1 preferred) to 2 (output_2
/// preferred), continuous for weighted annotators, as a number or a string; 0 or 1.5 is a
/// tie, and none is a failed annotation.
#[derive(Debug, Deserialize)]
pub struct AlpacaAnnotation {
    instruction: String,
    output_1: String,
    generator_1: String,
    output_2: String,
    generator_2: String,
    #[serde(default, deserialize_with = "number_or_text")]
    preference: Option<f64>,
    #[serde(default)]
    annotator: Option<String>,
}

fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|p| p.is_finite()))
}

impl AlpacaAnnotation {
    /// The game it records: one order (`generator_1` shown first), the verdict the
    /// preference rounds to, and the preference itself as model_2's share.
    pub fn game(&self) -> PairGame {
        // AlpacaEval reads 0 as a tie (`replace({0.0: 1.5})`), then subtracts 1.
        let share = self.preference.map(|p| {
            if p == 0.0 {
                0.5
            } else {
                (p - 1.0).clamp(0.0, 1.0)
            }
        });
        let w = match share {
            None => Winner::Error,
            Some(s) if s > 0.5 => Winner::Model2,
            Some(s) if s < 0.5 => Winner::Model1,
            Some(_) => Winner::Tie,
        };
        let judge = self.annotator.as_deref().unwrap_or("alpaca_eval");
        PairGame {
            answer_1: Some(TextStats::of(&self.output_1)),
            answer_2: Some(TextStats::of(&self.output_2)),
            question: Some(TextStats::of(&self.instruction)),
            one_order: true,
            preference: share,
            ..PairGame::read(
                QuestionId::text(self.instruction.clone()),
                &self.generator_1,
                &self.generator_2,
                [w, w],
                judge,
            )
        }
    }
}

/// One of Arena-Hard-Auto's judgments (`data/<bench>/model_judgment/<judge>/<model>.jsonl`, as
/// its `gen_judgment.py` at 01109e9 writes them): a model's two games against the benchmark's
/// baseline, which the record does not name. Game 1 shows the baseline as A and the model as
/// B; game 2 the model as A. Verdicts are five-level labels (`A>>B`, `A>B`, `A=B`, `B>A`,
/// `B>>A`, and their mirror spellings); `null` is a game without one.
#[derive(Debug, Deserialize)]
pub struct ArenaHardJudgment {
    #[serde(alias = "uid")]
    question_id: QuestionId,
    model: String,
    #[serde(default)]
    judge: Option<String>,
    games: Vec<Option<ArenaHardGame>>,
}

#[derive(Debug, Deserialize)]
struct ArenaHardGame {
    #[serde(default)]
    score: Option<String>,
}

/// The name the unnamed baseline of Arena-Hard-Auto judgments goes by.
pub const ARENA_HARD_BASELINE: &str = "arena-hard-baseline";

impl ArenaHardJudgment {
    /// The game as shinpan counts games (model_1 the baseline), with each order's battles.
    pub fn game(&self) -> PairGame {
        // A label read as (A's outcome, strong): A wins, B wins or a tie.
        let read = |label: Option<&str>| -> (Winner, u8) {
            let Some(l) = label else {
                return (Winner::Error, 0);
            };
            match l.trim() {
                "A>>B" | "B<<A" => (Winner::Model1, 3),
                "A>B" | "B<A" => (Winner::Model1, 1),
                "A=B" | "B=A" => (Winner::Tie, 1),
                "B>A" | "A<B" => (Winner::Model2, 1),
                "B>>A" | "A<<B" => (Winner::Model2, 3),
                _ => (Winner::Error, 0),
            }
        };
        let label = |i: usize| {
            self.games
                .get(i)
                .and_then(|g| g.as_ref())
                .and_then(|g| g.score.as_deref())
        };
        // Game 1: A is the baseline (model_1). Game 2: A is the model (model_2).
        let (g1, b1) = read(label(0));
        let (g2_a, b2) = read(label(1));
        let g2 = match g2_a {
            Winner::Model1 => Winner::Model2,
            Winner::Model2 => Winner::Model1,
            w => w,
        };
        PairGame {
            battles: [b1, b2],
            ..PairGame::read(
                self.question_id.clone(),
                ARENA_HARD_BASELINE,
                &self.model,
                [g1, g2],
                self.judge.as_deref().unwrap_or("arena-hard"),
            )
        }
    }
}
