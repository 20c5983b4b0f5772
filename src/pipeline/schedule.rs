//! Which judgments become possible as answers arrive, given the mode and what the judgment
//! file already holds.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::state::{Answers, Planned, Recorded};
use crate::aggregate::{GameOutcome, combine};
use crate::records::{Game, GamePlan, InputDigest, ItemSample, Question, game_order, input_digest};
use crate::types::{Mode, Winner};

/// One judgment to make: indexes into the run's scorers, questions and models; turns are
/// 1-based.
pub(super) enum Item {
    Single {
        s: usize,
        q: usize,
        m: usize,
        turn: usize,
        sample: Option<u32>,
        /// Graded with the multi-aspect rubric.
        rubric: bool,
    },
    Pair {
        s: usize,
        q: usize,
        m1: usize,
        m2: usize,
        turn: usize,
        sample: Option<u32>,
    },
}

/// Games a sampled mode plays (`pairwise-n`, `pairwise-adaptive`).
pub(super) struct Games {
    /// The games allowed so far; `m1 < m2`.
    allowed: HashSet<Game>,
    /// `pairwise-adaptive`'s state.
    adaptive: Option<Adaptive>,
}

/// How `pairwise-adaptive` decides its next round.
struct Adaptive {
    budget: u64,
    confidence: f64,
    /// The last standing's order, strongest first.
    order: Vec<usize>,
    /// Each pair's games not played yet, in the seed's order (question indexes).
    pending: BTreeMap<(usize, usize), VecDeque<usize>>,
    /// The combined outcomes so far, one per judged turn (and sample).
    outcomes: Vec<(usize, usize, GameOutcome)>,
    /// Rounds planned so far, the first included.
    round: usize,
    /// Why it stopped, once it has.
    stopped: Option<String>,
}

/// Games each pair plays first in `pairwise-adaptive`, before the standing decides.
const FIRST_GAMES_PER_PAIR: usize = 2;
/// Games a neighbour pair whose order is not settled gets in each later round.
const GAMES_PER_ROUND: usize = 2;

/// Decides which judgments become possible when an answer arrives.
pub(super) struct Scheduler {
    pub(super) mode: Mode,
    pub(super) baseline: Option<usize>,
    pub(super) questions: Arc<Vec<Question>>,
    pub(super) names: Vec<String>,
    /// What each scorer's judgment file holds.
    pub(super) recorded: Vec<HashMap<ItemSample, Recorded>>,
    /// Judgments per item (`--judge-samples`); 1 writes no sample index.
    pub(super) samples: u32,
    pub(super) reused: usize,
    /// Judgments made again because their inputs changed.
    pub(super) stale: usize,
    /// Games queued: scorer, question, model_1, model_2, turn.
    pub(super) queued: HashSet<(usize, usize, usize, usize, usize)>,
    /// The games of a sampled mode (`None`: every game of the mode).
    pub(super) games: Option<Games>,
}

impl Scheduler {
    /// The scheduler of a run with `setup`, starting from the judgments `recorded`.
    pub(super) fn new(
        opts: &crate::config::RunOptions,
        setup: &super::setup::Setup,
        recorded: Vec<HashMap<ItemSample, Recorded>>,
    ) -> Self {
        Scheduler {
            mode: opts.mode,
            baseline: opts
                .baseline
                .as_ref()
                .and_then(|b| setup.candidates.iter().position(|c| &c.name == b)),
            questions: setup.questions.clone(),
            names: setup.candidates.iter().map(|c| c.name.clone()).collect(),
            recorded,
            samples: opts.judge_samples,
            reused: 0,
            stale: 0,
            queued: HashSet::new(),
            games: None,
        }
        .with_plan(opts.plan)
    }

    /// Chooses the first games of a sampled mode.
    fn with_plan(mut self, plan: Option<GamePlan>) -> Self {
        let Some(plan) = plan.filter(|_| self.mode == Mode::PairwiseAll) else {
            return self;
        };
        let qids: Vec<String> = self
            .questions
            .iter()
            .map(|q| q.question_id.to_string())
            .collect();
        let order = game_order(plan.seed(), &qids, &self.names);
        match plan {
            GamePlan::Sample { games, .. } => {
                let n = games.min(order.len() as u64) as usize;
                self.games = Some(Games {
                    allowed: order[..n].iter().copied().collect(),
                    adaptive: None,
                });
            }
            GamePlan::Adaptive {
                budget, confidence, ..
            } => {
                let mut pending: BTreeMap<(usize, usize), VecDeque<usize>> = BTreeMap::new();
                for &(q, m1, m2) in &order {
                    pending.entry((m1, m2)).or_default().push_back(q);
                }
                // Games already judged count first: they cost nothing now.
                let mut allowed: HashSet<Game> = HashSet::new();
                let index: HashMap<&str, usize> = qids
                    .iter()
                    .enumerate()
                    .map(|(i, q)| (q.as_str(), i))
                    .collect();
                let model: HashMap<&str, usize> = self
                    .names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.as_str(), i))
                    .collect();
                // (A panel does not play this mode: one judge's verdicts decide.)
                let mut recorded: Vec<&ItemSample> =
                    self.recorded.iter().flat_map(|r| r.keys()).collect();
                recorded.sort();
                for k in recorded {
                    if let (Some(&q), Some(&m1), Some(&m2)) = (
                        index.get(k.question.as_str()),
                        model.get(k.model_1.as_str()),
                        model.get(k.model_2.as_str()),
                    ) && (allowed.len() as u64) < budget
                    {
                        allowed.insert((q, m1.min(m2), m1.max(m2)));
                    }
                }
                for (&(m1, m2), qs) in pending.iter_mut() {
                    qs.retain(|q| !allowed.contains(&(*q, m1, m2)));
                }
                // Every pair plays a few games first (those judged before count toward them).
                let mut held: HashMap<(usize, usize), usize> = HashMap::new();
                for &(_, m1, m2) in &allowed {
                    *held.entry((m1, m2)).or_default() += 1;
                }
                for _ in 0..FIRST_GAMES_PER_PAIR {
                    for (&(m1, m2), qs) in pending.iter_mut() {
                        let n = held.entry((m1, m2)).or_default();
                        if *n < FIRST_GAMES_PER_PAIR
                            && (allowed.len() as u64) < budget
                            && let Some(q) = qs.pop_front()
                        {
                            allowed.insert((q, m1, m2));
                            *n += 1;
                        }
                    }
                }
                self.games = Some(Games {
                    allowed,
                    adaptive: Some(Adaptive {
                        budget,
                        confidence,
                        order: Vec::new(),
                        pending,
                        outcomes: Vec::new(),
                        round: 1,
                        stopped: None,
                    }),
                });
            }
        }
        self
    }

    /// Whether model `m`'s answer to question `q` is needed: a sampled mode's answers only
    /// for its games (`pairwise-adaptive` may play any game).
    pub(super) fn needs_answer(&self, m: usize, q: usize) -> bool {
        match &self.games {
            Some(g) if g.adaptive.is_none() => {
                (0..self.names.len()).any(|o| g.allowed.contains(&(q, m.min(o), m.max(o))))
            }
            _ => true,
        }
    }

    /// Counts a game's verdicts toward `pairwise-adaptive`'s standing (models by name, as a
    /// judgment record names them).
    pub(super) fn record_outcome(&mut self, m1: &str, m2: &str, winners: [Winner; 2]) {
        let index = |m: &str| self.names.iter().position(|n| n == m);
        if let (Some(a), Some(b)) = (index(m1), index(m2)) {
            self.count_outcome(a, b, winners);
        }
    }

    fn count_outcome(&mut self, a: usize, b: usize, winners: [Winner; 2]) {
        if let Some(Games {
            adaptive: Some(ad), ..
        }) = &mut self.games
        {
            let outcome = combine(winners[0], winners[1]).0;
            if outcome != GameOutcome::Error {
                ad.outcomes.push((a, b, outcome));
            }
        }
    }

    /// `pairwise-adaptive`'s next round, once every judgment of the last one is in: games
    /// for the neighbours in the standing whose order is least certain. Empty when the
    /// ranking is settled, the budget spent, or no game is left for an unsettled pair (then
    /// [`Scheduler::adaptive_note`] says which).
    pub(super) fn next_round(&mut self, answers: &Answers) -> Vec<Item> {
        let k = self.names.len();
        let Some(Games {
            allowed,
            adaptive: Some(ad),
        }) = &mut self.games
        else {
            return Vec::new();
        };
        if ad.stopped.is_some() {
            return Vec::new();
        }
        let st = crate::aggregate::ratings::standing(k, &ad.outcomes);
        ad.order = st.order.clone();
        let mut unsettled: Vec<(f64, usize, usize)> = st
            .order
            .windows(2)
            .zip(&st.confidence)
            .filter(|(_, c)| **c < ad.confidence)
            .map(|(p, c)| (*c, p[0].min(p[1]), p[0].max(p[1])))
            .collect();
        if unsettled.is_empty() {
            ad.stopped = Some(format!(
                "settled: each neighbour's order at least {:.0}% probable",
                ad.confidence * 100.0
            ));
            return Vec::new();
        }
        unsettled.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let mut chosen: Vec<Game> = Vec::new();
        for &(_, m1, m2) in &unsettled {
            let qs = ad.pending.entry((m1, m2)).or_default();
            let mut taken = 0;
            while taken < GAMES_PER_ROUND
                && ((allowed.len() + chosen.len()) as u64) < ad.budget
                && let Some(q) = qs.pop_front()
            {
                // A game whose answers are missing cannot be played.
                if answers[m1][q].is_some() && answers[m2][q].is_some() {
                    chosen.push((q, m1, m2));
                    taken += 1;
                }
            }
        }
        if chosen.is_empty() {
            ad.stopped = Some(if (allowed.len() as u64) >= ad.budget {
                format!("the budget of {} games is spent", ad.budget)
            } else {
                "every game of the unsettled pairs is played".to_string()
            });
            return Vec::new();
        }
        ad.round += 1;
        allowed.extend(chosen.iter().copied());
        let mut out = Vec::new();
        for (q, m1, m2) in chosen {
            self.game_items(answers, q, m1, m2, &mut out);
        }
        out
    }

    /// Games a sampled mode has planned so far (0 in other modes).
    pub(super) fn planned_games(&self) -> usize {
        self.games.as_ref().map_or(0, |g| g.allowed.len())
    }

    /// What `pairwise-adaptive` did, for the summary (`None` in other modes).
    pub(super) fn adaptive_note(&self) -> Option<String> {
        let g = self.games.as_ref()?;
        let ad = g.adaptive.as_ref()?;
        let total = self.questions.len() * self.names.len() * (self.names.len() - 1) / 2;
        let order: Vec<&str> = ad.order.iter().map(|&i| self.names[i].as_str()).collect();
        Some(format!(
            "pairwise-adaptive: {} of {total} games in {} round(s); {}; standing {}",
            g.allowed.len(),
            ad.round,
            ad.stopped
                .as_deref()
                .unwrap_or("stopped before the ranking was settled"),
            order.join(" > ")
        ))
    }

    /// The pairs (model_1, model_2) a model plays on a question. With a baseline, model_1 is
    /// the candidate and model_2 the baseline (FastChat's convention); otherwise model_1 is
    /// the one listed first.
    fn partners(&self, m: usize, q: usize) -> Vec<(usize, usize)> {
        let mut pairs = self.all_partners(m);
        if let Some(g) = &self.games {
            pairs.retain(|&(a, b)| g.allowed.contains(&(q, a.min(b), a.max(b))));
        }
        pairs
    }

    fn all_partners(&self, m: usize) -> Vec<(usize, usize)> {
        let n = self.names.len();
        match (self.mode, self.baseline) {
            (Mode::Single | Mode::Rubric, _) => Vec::new(),
            (Mode::PairwiseBaseline, Some(b)) if m == b => {
                (0..n).filter(|&o| o != b).map(|o| (o, b)).collect()
            }
            (Mode::PairwiseBaseline, Some(b)) => vec![(m, b)],
            _ => (0..n)
                .filter(|&o| o != m)
                .map(|o| (m.min(o), m.max(o)))
                .collect(),
        }
    }

    pub(super) fn ready(&mut self, answers: &Answers, m: usize, q: usize) -> Vec<Item> {
        let questions = self.questions.clone();
        let question = &questions[q];
        let qid = question.question_id.to_string();
        let turns = question.turns.len();
        let mut out = Vec::new();
        let samples = self.sample_ids();
        if self.mode.is_graded() {
            let rubric = self.mode == Mode::Rubric;
            let answer = answers[m][q].as_deref().expect("ready once answered");
            for s in 0..self.recorded.len() {
                for turn in 1..=turns {
                    let digest = input_digest(question, &[answer], turn);
                    for &sample in &samples {
                        let key = ItemSample {
                            question: qid.clone(),
                            model_1: self.names[m].clone(),
                            model_2: String::new(),
                            turn: turn as u32,
                            sample,
                        };
                        let recorded = self.recorded[s].get(&key).copied();
                        if !self.reuse(recorded, digest) {
                            out.push(Item::Single {
                                s,
                                q,
                                m,
                                turn,
                                sample,
                                rubric,
                            });
                        }
                    }
                }
            }
            return out;
        }
        for (m1, m2) in self.partners(m, q) {
            self.game_items(answers, q, m1, m2, &mut out);
        }
        out
    }

    /// The judgments of one game whose answers are held (by every scorer), less those
    /// already standing.
    fn game_items(
        &mut self,
        answers: &Answers,
        q: usize,
        m1: usize,
        m2: usize,
        out: &mut Vec<Item>,
    ) {
        let questions = self.questions.clone();
        let question = &questions[q];
        let qid = question.question_id.to_string();
        let samples = self.sample_ids();
        let (Some(a1), Some(a2)) = (answers[m1][q].as_deref(), answers[m2][q].as_deref()) else {
            return;
        };
        for s in 0..self.recorded.len() {
            for turn in 1..=question.turns.len() {
                if !self.queued.insert((s, q, m1, m2, turn)) {
                    continue;
                }
                let digest = input_digest(question, &[a1, a2], turn);
                for &sample in &samples {
                    let key = ItemSample {
                        question: qid.clone(),
                        model_1: self.names[m1].clone(),
                        model_2: self.names[m2].clone(),
                        turn: turn as u32,
                        sample,
                    };
                    let recorded = self.recorded[s].get(&key).copied();
                    if self.reuse(recorded, digest) {
                        if let Some(w) = recorded.and_then(|r| r.winners) {
                            self.count_outcome(m1, m2, w);
                        }
                    } else {
                        out.push(Item::Pair {
                            s,
                            q,
                            m1,
                            m2,
                            turn,
                            sample,
                        });
                    }
                }
            }
        }
    }

    /// Whether the recorded judgment of an item stands for one on inputs with digest `now`:
    /// it has a verdict and was made on the same inputs (a record without a digest, from a
    /// file shinpan did not write, cannot be checked and stands). Counts what is reused, and
    /// verdicts on other inputs, which are made again.
    fn reuse(&mut self, recorded: Option<Recorded>, now: InputDigest) -> bool {
        let Some(r) = recorded.filter(|r| r.valid) else {
            return false;
        };
        // A verdict made on another version of the set stands for nothing here.
        if r.same_bench && r.digest.is_none_or(|d| d == now) {
            self.reused += 1;
            true
        } else {
            self.stale += 1;
            false
        }
    }

    /// The sample index of each repeated judgment: `None` once, or `Some(0..K)`.
    fn sample_ids(&self) -> Vec<Option<u32>> {
        if self.samples <= 1 {
            vec![None]
        } else {
            (0..self.samples).map(Some).collect()
        }
    }

    /// Judgments this run will make if every missing answer arrives: every item and sample
    /// without a record that stands for it (for progress).
    pub(super) fn planned(&self, answers: &Answers) -> usize {
        self.planned_items(answers).len()
    }

    /// The judgments [`Scheduler::planned`] counts: question, model (model_1), model_2,
    /// turn (1-based) and sample of each.
    pub(super) fn planned_items(&self, answers: &Answers) -> Vec<Planned> {
        let samples = self.sample_ids();
        let mut out = Vec::new();
        for (q, question) in self.questions.iter().enumerate() {
            let qid = question.question_id.to_string();
            for m in 0..self.names.len() {
                let pairs: Vec<(usize, Option<usize>)> = if self.mode.is_graded() {
                    vec![(m, None)]
                } else {
                    self.partners(m, q)
                        .into_iter()
                        .filter(|(m1, _)| *m1 == m)
                        .map(|(m1, m2)| (m1, Some(m2)))
                        .collect()
                };
                for (m1, m2) in pairs {
                    let shown: Option<Vec<&crate::records::AnswerRecord>> = [Some(m1), m2]
                        .into_iter()
                        .flatten()
                        .map(|i| answers[i][q].as_deref())
                        .collect();
                    for (s, recorded) in self.recorded.iter().enumerate() {
                        for turn in 1..=question.turns.len() {
                            let digest = shown.as_ref().map(|a| input_digest(question, a, turn));
                            for &sample in &samples {
                                let key = ItemSample {
                                    question: qid.clone(),
                                    model_1: self.names[m1].clone(),
                                    model_2: m2.map(|i| self.names[i].clone()).unwrap_or_default(),
                                    turn: turn as u32,
                                    sample,
                                };
                                let stands = digest.is_some_and(|d| {
                                    recorded.get(&key).is_some_and(|r| {
                                        r.valid && r.same_bench && r.digest.is_none_or(|x| x == d)
                                    })
                                });
                                if !stands {
                                    out.push(Planned {
                                        s,
                                        q,
                                        m1,
                                        m2,
                                        turn,
                                        sample,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Judgments that could not be made because an answer is missing (by every scorer).
    pub(super) fn blocked(&self, answers: &Answers) -> usize {
        self.recorded.len() * self.blocked_of_one(answers)
    }

    fn blocked_of_one(&self, answers: &Answers) -> usize {
        let mut n = 0;
        for (q, question) in self.questions.iter().enumerate() {
            let turns = question.turns.len();
            for m in 0..self.names.len() {
                if self.mode.is_graded() {
                    if answers[m][q].is_none() {
                        n += turns * self.samples.max(1) as usize;
                    }
                    continue;
                }
                for (m1, m2) in self.partners(m, q) {
                    if m1 == m && (answers[m1][q].is_none() || answers[m2][q].is_none()) {
                        n += turns * self.samples.max(1) as usize;
                    }
                }
            }
        }
        n
    }
}
