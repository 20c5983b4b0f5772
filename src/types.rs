//! Types every stage speaks: question ids, token usage, the evaluation mode, pairwise winners
//! and judge ids. They live below the stages so that generating, judging, aggregating and
//! reporting can share them without importing one another.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A question id exactly as its file wrote it: FastChat writes integers, some Japanese forks
/// write strings. Both spellings of one id compare equal (a question file with `1` matches a
/// reference file with `"1"`), and each is written back the way it was read, so files shinpan
/// writes keep the ids of the question file they came from (FastChat's `check_data` compares
/// them with `==`).
#[derive(Debug, Clone)]
pub struct QuestionId {
    text: Box<str>,
    number: bool,
}

impl QuestionId {
    /// An id written as a string.
    pub fn text(s: impl Into<String>) -> Self {
        Self {
            text: s.into().into_boxed_str(),
            number: false,
        }
    }

    /// An id written as an integer.
    pub fn number(n: i64) -> Self {
        Self {
            text: n.to_string().into_boxed_str(),
            number: true,
        }
    }

    /// The id's text (`"81"` for both `81` and `"81"`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the file wrote it as a number.
    pub fn is_number(&self) -> bool {
        self.number
    }
}

impl PartialEq for QuestionId {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for QuestionId {}

impl std::hash::Hash for QuestionId {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.text.hash(h)
    }
}

impl PartialOrd for QuestionId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for QuestionId {
    /// Numeric ids in numeric order (2 before 10), then the rest by text.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let n = |s: &str| s.parse::<i64>().ok();
        match (n(&self.text), n(&other.text)) {
            (Some(a), Some(b)) => a.cmp(&b).then_with(|| self.text.cmp(&other.text)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => self.text.cmp(&other.text),
        }
    }
}

impl fmt::Display for QuestionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for QuestionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(QuestionId::text(s)),
            // An integer, as JSON writes one: `2.5`, `1e0` and integers too large to be
            // exact (read as floats) are refused, or `1e0` would count apart from `1`.
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Ok(QuestionId {
                text: n.to_string().into_boxed_str(),
                number: true,
            }),
            // An integral float (`81.0`, as pandas writes an integer column with a missing
            // value) is that integer, so it counts with `81`.
            serde_json::Value::Number(n)
                if n.as_f64()
                    .is_some_and(|x| x.fract() == 0.0 && x.abs() < 9.0e15) =>
            {
                Ok(QuestionId {
                    text: format!("{}", n.as_f64().unwrap_or_default() as i64).into_boxed_str(),
                    number: true,
                })
            }
            serde_json::Value::Number(n) => Err(serde::de::Error::custom(format!(
                "question_id must be an integer or a string, found {n} (not an integer, or too large to be exact)"
            ))),
            other => Err(serde::de::Error::custom(format!(
                "question_id must be an integer or a string, found {other}"
            ))),
        }
    }
}

impl Serialize for QuestionId {
    /// Written as it was read: a number stays a number, a string stays a string.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.number
            && let Ok(n) = self.text.parse::<serde_json::Number>()
        {
            return n.serialize(s);
        }
        s.serialize_str(&self.text)
    }
}

/// Token usage reported by the API for one call, or summed over a conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Of the prompt tokens, those the provider served from its prompt cache
    /// (`usage.prompt_tokens_details.cached_tokens`: OpenAI, vLLM), billed at their own rate.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_prompt_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Usage {
    /// Total tokens billed.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, rhs: Self) {
        self.prompt_tokens += rhs.prompt_tokens;
        self.completion_tokens += rhs.completion_tokens;
        self.cached_prompt_tokens += rhs.cached_prompt_tokens;
    }
}

/// The scale a grade is on, as its prompt asked for it: 1-10 for the MT-bench family, 1-5
/// for ELYZA-tasks-100's criteria. Recorded with every grade, and read by every consumer
/// (tables, charts, labels, the regression gate) instead of a 1-10 assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scale {
    /// The lowest grade.
    pub min: u8,
    /// The highest grade.
    pub max: u8,
}

impl Scale {
    /// 1-10, MT-bench's scale (and a grade's scale when its record states none).
    pub const TEN: Scale = Scale { min: 1, max: 10 };
    /// 1-5, ELYZA-tasks-100's criteria.
    pub const FIVE: Scale = Scale { min: 1, max: 5 };

    /// Whether a grade lies on the scale.
    pub fn contains(self, x: f64) -> bool {
        (f64::from(self.min)..=f64::from(self.max)).contains(&x)
    }

    /// Its whole points, lowest first.
    pub fn points(self) -> std::ops::RangeInclusive<u8> {
        self.min..=self.max
    }

    /// How far the top is from the bottom (9 on 1-10).
    pub fn span(self) -> f64 {
        f64::from(self.max) - f64::from(self.min)
    }
}

impl Default for Scale {
    fn default() -> Self {
        Scale::TEN
    }
}

impl fmt::Display for Scale {
    /// `1-10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.min, self.max)
    }
}

/// How a panel's judges are pooled into one figure per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// The mean of the judges' grades (the default for grades).
    Mean,
    /// The median of the judges' grades.
    Median,
    /// The most common verdict: of each order of a game (then the swap rule), or the most
    /// common grade (a tie between grades: their median). The default for games.
    Majority,
}

impl Pool {
    /// Its name, as `--pool` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Pool::Mean => "mean",
            Pool::Median => "median",
            Pool::Majority => "majority",
        }
    }

    /// Parses `--pool`.
    pub fn parse(s: &str) -> Option<Pool> {
        match s.trim() {
            "mean" => Some(Pool::Mean),
            "median" => Some(Pool::Median),
            "majority" => Some(Pool::Majority),
            _ => None,
        }
    }

    /// The default of a mode: the mean of grades, the majority of verdicts.
    pub fn default_for(mode: Mode) -> Pool {
        if mode.is_graded() {
            Pool::Mean
        } else {
            Pool::Majority
        }
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of evaluation a run makes or a report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Grading of each answer, on its prompt's scale.
    Single,
    /// Grading of each answer on several aspects in one call.
    Rubric,
    /// Each model against one baseline model.
    PairwiseBaseline,
    /// Every pair of models.
    PairwiseAll,
}

impl Mode {
    /// Whether answers are graded one by one (single or rubric) rather than compared.
    pub fn is_graded(self) -> bool {
        matches!(self, Mode::Single | Mode::Rubric)
    }

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Rubric => "rubric",
            Mode::PairwiseBaseline => "pairwise-baseline",
            Mode::PairwiseAll => "pairwise-all",
        }
    }

    /// The kind of judgment file the mode writes: `single`, `rubric` or `pair`.
    pub fn file_kind(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Rubric => "rubric",
            Mode::PairwiseBaseline | Mode::PairwiseAll => "pair",
        }
    }

    /// Every mode, in the order help texts list them.
    pub const ALL: [Mode; 4] = [
        Mode::Single,
        Mode::Rubric,
        Mode::PairwiseBaseline,
        Mode::PairwiseAll,
    ];

    /// Parses a mode name (`pairwise` is accepted for `pairwise-baseline`).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "pairwise" => Some(Mode::PairwiseBaseline),
            _ => Mode::ALL.into_iter().find(|m| m.as_str() == s),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The winner of one order of a pairwise game, already mapped back to model identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Winner {
    /// `model_1` won.
    #[serde(rename = "model_1")]
    Model1,
    /// `model_2` won.
    #[serde(rename = "model_2")]
    Model2,
    /// Neither won.
    #[serde(rename = "tie")]
    Tie,
    /// No verdict could be obtained (see the record's error fields).
    #[serde(rename = "error")]
    Error,
}

/// Which judge produced a judgment: FastChat writes `[judge_model, prompt_name]`; ja-vicuna-qa
/// writes `judge_model` and `judge_prompt` as separate fields.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JudgeId(pub Vec<String>);

impl JudgeId {
    /// The judge model's name.
    pub fn model(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or("")
    }
}

impl<'de> Deserialize<'de> for JudgeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            One(String),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::List(v) => JudgeId(v),
            Raw::One(s) => JudgeId(vec![s]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_ids_round_trip_as_written_and_compare_by_text() {
        for raw in ["1", "\"1\"", "\"q-7\"", "81"] {
            let id: QuestionId = serde_json::from_str(raw).unwrap();
            assert_eq!(serde_json::to_string(&id).unwrap(), raw);
        }
        let n: QuestionId = serde_json::from_str("1").unwrap();
        let s: QuestionId = serde_json::from_str("\"1\"").unwrap();
        assert_eq!(n, s);
        let mut ids = [
            QuestionId::number(10),
            QuestionId::text("b"),
            QuestionId::number(2),
        ];
        ids.sort();
        assert_eq!(
            ids.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            ["2", "10", "b"]
        );
    }

    #[test]
    fn modes_parse_by_name() {
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
        assert_eq!(Mode::parse("pairwise"), Some(Mode::PairwiseBaseline));
        assert_eq!(Mode::parse("pair"), None);
    }
}

/// One slice of a run spread over machines (`--shard I/N`): the questions at positions
/// `I, I+N, I+2N, …` of the question file (0-based), so every shard gets a fair mix of
/// categories and `shinpan merge` can put the questions back in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u32,
    /// How many shards the run is split into.
    pub count: u32,
}

/// Environment variables a scheduler sets to a job's index, in the order they are read:
/// Kubernetes Indexed Jobs, then Slurm job arrays (less `SLURM_ARRAY_TASK_MIN`, so arrays
/// numbered from 1 work too).
pub const SHARD_INDEX_VARS: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

impl Shard {
    /// Parses `I/N`, or `N` alone with the index taken from the environment (`env` looks a
    /// variable up).
    pub fn parse(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let bad = |why: &str| format!("--shard {spec}: {why}");
        let number = |s: &str, what: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| bad(&format!("{what} `{}` is not a whole number", s.trim())))
        };
        let (index, count) = match spec.split_once('/') {
            Some((i, n)) => (number(i, "the index")?, number(n, "the count")?),
            None => {
                let count = number(spec, "the count")?;
                let (var, value) = SHARD_INDEX_VARS
                    .iter()
                    .find_map(|v| env(v).map(|x| (*v, x)))
                    .ok_or_else(|| {
                        bad("give I/N, or set JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job array)")
                    })?;
                let raw = value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| bad(&format!("{var}={value} is not a whole number")))?;
                let min = match (var, env("SLURM_ARRAY_TASK_MIN")) {
                    ("SLURM_ARRAY_TASK_ID", Some(m)) => m.trim().parse::<u32>().map_err(|_| {
                        bad(&format!("SLURM_ARRAY_TASK_MIN={m} is not a whole number"))
                    })?,
                    _ => 0,
                };
                let index = raw.checked_sub(min).ok_or_else(|| {
                    bad(&format!("{var}={raw} is below SLURM_ARRAY_TASK_MIN={min}"))
                })?;
                (index, count)
            }
        };
        if count == 0 {
            return Err(bad("the count must be at least 1"));
        }
        if index >= count {
            return Err(bad(&format!(
                "the index {index} must be below the count {count} (indexes run 0 to {})",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether the question at `position` (0-based, in file order) is this shard's.
    pub fn takes(&self, position: usize) -> bool {
        position % self.count as usize == self.index as usize
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_from_the_flag_and_from_schedulers() {
        let s = Shard::parse("1/4", env(&[])).unwrap();
        assert_eq!((s.index, s.count), (1, 4));
        assert!(s.takes(1) && s.takes(5) && !s.takes(4));
        let k8s = Shard::parse("3", env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap();
        assert_eq!((k8s.index, k8s.count), (2, 3));
        // A Slurm array numbered 1-4.
        let slurm = Shard::parse(
            "4",
            env(&[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_MIN", "1")]),
        )
        .unwrap();
        assert_eq!((slurm.index, slurm.count), (3, 4));
        for (spec, vars, needle) in [
            ("4/4", &[][..], "must be below the count 4"),
            ("0/0", &[][..], "at least 1"),
            ("a/2", &[][..], "`a` is not a whole number"),
            ("4", &[][..], "JOB_COMPLETION_INDEX"),
            (
                "2",
                &[("JOB_COMPLETION_INDEX", "x")][..],
                "JOB_COMPLETION_INDEX=x",
            ),
        ] {
            let e = Shard::parse(spec, env(vars)).unwrap_err();
            assert!(e.contains(needle) && e.starts_with("--shard"), "{e}");
        }
    }
}
