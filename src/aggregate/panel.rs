//! A panel of judges: every judge grades every item, and the panel's figure pools them. Grades
//! are pooled per item (question, model, turn) by the mean, the median or the most common
//! grade; games by the majority of the judges' verdicts in each order, then FastChat's swap
//! rule. The pooled records are summarised as one judge's would be, and the panel's intervals
//! resample the judges as well as the items. Beside the pooled figures: agreement between
//! every pair of judges, each judge's failure rate, position bias, self-preference and cost,
//! and the items the judges disagree on most.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::agreement::{JudgePair, judge_votes, pairwise_agreement, single_agreement};
use super::answers::AnswerIndex;
use super::bootstrap::{interval, rng_for};
use super::family::family;
use super::pairwise::{GameOutcome, combine, counted, off_languages};
use super::ratings::rate_redrawing;
use super::{Expectation, ModelSummary, Report, StatsOptions, summarize_pairs, summarize_single};
use crate::records::spend::{SpendRow, Stage, total_cost};
use crate::records::{JudgeName, Name, PairGame, SingleGrade};
use crate::types::{Mode, Pool, QuestionId, Winner};

/// What a report shows of a panel, beside its pooled figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Panel {
    /// The judges, in the order given.
    pub judges: Vec<String>,
    /// How their verdicts are pooled.
    pub pool: Pool,
    /// Agreement between every pair of judges on the items both judged.
    pub agreement: Vec<JudgePair>,
    /// Each judge's own figures.
    pub by_judge: Vec<JudgeFigures>,
    /// The items the judges disagree on most, most first.
    pub disagreements: Vec<Disagreement>,
    /// Items on which the judges disagree at all.
    pub disagreeing_items: usize,
}

/// One judge of a panel.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JudgeFigures {
    /// The judge.
    pub judge: String,
    /// Items it judged with a readable verdict.
    pub judged: usize,
    /// Items it judged without one.
    pub failed: usize,
    /// failed / (judged + failed).
    pub failure_rate: Option<f64>,
    /// Candidates of its own family (or itself): where self-preference can show.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub own_family: Vec<String>,
    /// Its figure (mean grade, or adjusted win rate) of its own family's candidates minus the
    /// other judges' mean figure of them; positive: it favours its own family.
    pub self_preference: Option<f64>,
    /// Share of its games whose two orders agree (pairwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<f64>,
    /// Share of its decisive verdicts for the answer shown first (pairwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_position_win_rate: Option<f64>,
    /// Its requests (judge stage, paid and from the cache).
    pub requests: u64,
    /// What they cost (`null`: no price configured).
    pub cost: Option<f64>,
}

/// One item the judges disagree on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Disagreement {
    /// The question.
    pub question_id: String,
    /// The model graded, or the first model of the game.
    pub model_1: String,
    /// The second model of the game (grades: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_2: Option<String>,
    /// The turn.
    pub turn: u32,
    /// How far apart the judges are: highest minus lowest grade, or of the game's outcome
    /// for model_1 (1 win, ½ tie, 0 loss).
    pub spread: f64,
    /// Each judge's verdict on it, in the panel's order (`-`: none).
    pub verdicts: Vec<(String, String)>,
}

/// The name the panel's pooled report goes by (`panel(a, b, c)`).
pub fn panel_name(judges: &[String]) -> String {
    format!("panel({})", judges.join(", "))
}

/// One figure from several grades by `pool`. The most common grade wins a majority; grades
/// tied for most common give their median.
pub fn pool_grades(xs: &[f64], pool: Pool) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = |s: &[f64]| {
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        }
    };
    Some(match pool {
        Pool::Mean => sorted.iter().sum::<f64>() / sorted.len() as f64,
        Pool::Median => median(&sorted),
        Pool::Majority => {
            let mut runs: Vec<(f64, usize)> = Vec::new();
            for x in sorted {
                match runs.last_mut() {
                    Some((v, n)) if *v == x => *n += 1,
                    _ => runs.push((x, 1)),
                }
            }
            let most = runs.iter().map(|r| r.1).max().unwrap_or(0);
            let tied: Vec<f64> = runs.iter().filter(|r| r.1 == most).map(|r| r.0).collect();
            median(&tied)
        }
    })
}

/// The verdict of one order from several judges': the one with more votes than any other
/// (judges without a verdict do not vote); a split vote is a tie; no vote at all, an error.
pub fn pool_winners(ws: &[Winner]) -> Winner {
    let count = |w: Winner| ws.iter().filter(|x| **x == w).count();
    let votes = [Winner::Model1, Winner::Model2, Winner::Tie].map(|w| (w, count(w)));
    let most = votes.iter().map(|v| v.1).max().unwrap_or(0);
    if most == 0 {
        return Winner::Error;
    }
    let leaders: Vec<Winner> = votes.iter().filter(|v| v.1 == most).map(|v| v.0).collect();
    match leaders.as_slice() {
        [one] => *one,
        _ => Winner::Tie,
    }
}

/// One item (question, model, turn) as every judge of a panel graded it.
struct GradedItem<'a> {
    /// Each judge's grade (`None`: no readable grade).
    grades: Vec<Option<f64>>,
    /// Each judge's aspect grades, where its grade is readable (rubric).
    aspects: Vec<Option<&'a BTreeMap<String, f64>>>,
    /// The first judge's record, which the pooled record copies.
    first: &'a SingleGrade,
}

/// The panel's report of grades: each item's grades pooled, summarised as one judge's.
#[allow(clippy::too_many_arguments)]
pub fn pooled_single(
    mode: Mode,
    judges: &[String],
    rows: &[Vec<SingleGrade>],
    reports: &[Report],
    pool: Pool,
    opts: &StatsOptions,
    index: &AnswerIndex,
    exp: Option<&Expectation>,
) -> Report {
    let name = panel_name(judges);
    type Key = (QuestionId, String, u32);
    let mut items: BTreeMap<Key, GradedItem> = BTreeMap::new();
    for (j, judge_rows) in rows.iter().enumerate() {
        for r in judge_rows {
            let key = (r.question_id.clone(), r.model.clone(), r.turn);
            let e = items.entry(key).or_insert_with(|| GradedItem {
                grades: vec![None; judges.len()],
                aspects: vec![None; judges.len()],
                first: r,
            });
            e.grades[j] = r.valid_score();
            e.aspects[j] = r.aspects.as_ref().filter(|_| r.valid_score().is_some());
        }
    }
    let pooled: Vec<SingleGrade> = items
        .values()
        .map(|it| {
            let valid: Vec<f64> = it.grades.iter().flatten().copied().collect();
            let score = pool_grades(&valid, pool);
            let given: Vec<&BTreeMap<String, f64>> = it.aspects.iter().flatten().copied().collect();
            let pooled_aspects = given.first().map(|one| {
                one.keys()
                    .filter_map(|a| {
                        let xs: Vec<f64> = given.iter().filter_map(|m| m.get(a).copied()).collect();
                        pool_grades(&xs, pool).map(|v| (a.clone(), v))
                    })
                    .collect()
            });
            SingleGrade {
                judge: JudgeName(Name::intern(&name)),
                score,
                failed: score.is_none(),
                aspects: pooled_aspects.filter(|_| score.is_some()),
                sample: None,
                samples: Default::default(),
                ..it.first.clone()
            }
        })
        .collect();
    let refs: Vec<&SingleGrade> = pooled.iter().collect();
    let result = summarize_single(&refs, opts, index, exp);
    let mut report = Report::single(mode, &name, result, exp);
    // The panel's intervals resample the judges as well as the items.
    for m in &mut report.models {
        if let ModelSummary::Single(s) = m {
            resample_judges(s, &items, judges.len(), pool, opts, index);
        }
    }
    let all: Vec<SingleGrade> = rows.iter().flatten().cloned().collect();
    let figure = |r: &Report, model: &str| {
        r.models.iter().find_map(|m| match m {
            ModelSummary::Single(s) if s.model == model => s.score,
            _ => None,
        })
    };
    let disagreements: Vec<Disagreement> = items
        .iter()
        .filter_map(|((q, model, turn), it)| {
            let valid: Vec<f64> = it.grades.iter().flatten().copied().collect();
            spread(&valid).map(|spread| Disagreement {
                question_id: q.to_string(),
                model_1: model.clone(),
                model_2: None,
                turn: *turn,
                spread,
                verdicts: judges
                    .iter()
                    .zip(&it.grades)
                    .map(|(j, g)| (j.clone(), g.map_or("-".into(), |g| format!("{g}"))))
                    .collect(),
            })
        })
        .collect();
    let agreement = single_agreement(&all).pairs;
    report.spend = panel_spend(reports);
    report.panel = Some(panel(
        judges,
        pool,
        agreement,
        reports,
        figure,
        disagreements,
        opts,
    ));
    report
}

/// Sets a panel model's intervals — overall, per category and per aspect — to ones that
/// resample the judges as well as the items.
fn resample_judges(
    s: &mut super::single::SingleSummary,
    items: &BTreeMap<(QuestionId, String, u32), GradedItem>,
    judges: usize,
    pool: Pool,
    opts: &StatsOptions,
    index: &AnswerIndex,
) {
    let of_model: Vec<&GradedItem> = items
        .iter()
        .filter(|((_, model, _), _)| *model == s.model)
        .map(|(_, it)| it)
        .collect();
    let ci = |name: &str, category: Option<&str>, aspect: Option<&str>| {
        let values: Vec<Vec<Option<f64>>> = of_model
            .iter()
            .filter(|it| category.is_none_or(|c| category_of(it.first, index) == Some(c)))
            .map(|it| graded_values(it, aspect, opts, index))
            .collect();
        two_level(&values, judges, opts, name, |xs| pool_grades(xs, pool))
    };
    let model = s.model.clone();
    s.score_ci = ci(&model, None, None);
    for (c, f) in &mut s.categories {
        f.score_ci = ci(&format!("{model}\u{1f}{c}"), Some(c), None);
    }
    for (a, f) in &mut s.aspects {
        f.score_ci = ci(&format!("{model}\u{1f}aspect\u{1f}{a}"), None, Some(a));
        for (c, g) in &mut f.categories {
            let name = format!("{model}\u{1f}aspect\u{1f}{a}\u{1f}{c}");
            g.score_ci = ci(&name, Some(c), Some(a));
        }
    }
}

/// The question category of a grade, as the summaries read it.
fn category_of<'a>(r: &'a SingleGrade, index: &'a AnswerIndex) -> Option<&'a str> {
    r.category
        .as_deref()
        .or_else(|| index.category(r.question_id.as_str()))
}

/// Each judge's value of an item (its grade, or its grade of `aspect`), as the summaries
/// count it: an answer off the question's language at the scale's lowest grade with
/// `--non-japanese-as-failure`.
fn graded_values(
    it: &GradedItem,
    aspect: Option<&str>,
    opts: &StatsOptions,
    index: &AnswerIndex,
) -> Vec<Option<f64>> {
    let values: Vec<Option<f64>> = match aspect {
        None => it.grades.clone(),
        Some(a) => it
            .aspects
            .iter()
            .map(|m| m.and_then(|m| m.get(a).copied()))
            .collect(),
    };
    let r = it.first;
    let (qid, turn) = (r.question_id.as_str(), r.turn);
    let off = super::answers::off_language(
        index.question_japanese(qid, turn),
        index.answer(&r.model, qid, turn),
    );
    if aspect.is_none() && opts.non_japanese_as_failure && off == Some(true) {
        let lowest = f64::from(r.scale().min);
        return values.iter().map(|v| v.map(|_| lowest)).collect();
    }
    values
}

/// What a report shows of a panel, from its judges' reports and the disputed items.
fn panel(
    judges: &[String],
    pool: Pool,
    agreement: Vec<JudgePair>,
    reports: &[Report],
    figure: impl Fn(&Report, &str) -> Option<f64>,
    mut disagreements: Vec<Disagreement>,
    opts: &StatsOptions,
) -> Panel {
    let disagreeing_items = disagreements.len();
    rank(&mut disagreements, opts.max_listed);
    Panel {
        judges: judges.to_vec(),
        pool,
        agreement,
        by_judge: by_judge(judges, reports, figure),
        disagreements,
        disagreeing_items,
    }
}

/// The panel's report of games: each order's verdict by majority, then the swap rule.
#[allow(clippy::too_many_arguments)]
pub fn pooled_pairs(
    judges: &[String],
    rows: &[Vec<PairGame>],
    reports: &[Report],
    pool: Pool,
    baseline: Option<&str>,
    opts: &StatsOptions,
    index: &AnswerIndex,
    exp: Option<&Expectation>,
) -> Report {
    let name = panel_name(judges);
    let games = by_game(judges.len(), rows);
    let pooled = pool_games(judges, rows);
    let refs: Vec<&PairGame> = pooled.iter().collect();
    let result = summarize_pairs(&refs, baseline, opts, index, exp);
    let mut report = Report::pairwise(&name, baseline.map(str::to_string), result, exp);
    // The adjusted win rate's interval resamples the judges as well as the games.
    for m in &mut report.models {
        if let ModelSummary::Pair(p) = m {
            p.adjusted_win_rate_ci = win_rate_interval(&p.model, &games, judges.len(), opts, index);
        }
    }
    // So do the ratings' intervals.
    let intervals = panel_rating_intervals(&games, judges.len(), baseline, opts, index);
    for m in &mut report.models {
        if let ModelSummary::Pair(p) = m
            && let Some((rating, predicted)) = intervals.get(&p.model)
        {
            p.bt_ci = p.bt_rating.and(*rating);
            p.predicted_win_rate_ci = p.predicted_win_rate.and(*predicted);
        }
    }
    let all: Vec<PairGame> = rows.iter().flatten().cloned().collect();
    let figure = |r: &Report, model: &str| {
        r.models.iter().find_map(|m| match m {
            ModelSummary::Pair(p) if p.model == model => p.adjusted_win_rate,
            _ => None,
        })
    };
    let say = |w: Winner, k: &GameKey| match w {
        Winner::Model1 => k.1.clone(),
        Winner::Model2 => k.2.clone(),
        Winner::Tie => "tie".into(),
        Winner::Error => "-".into(),
    };
    let disagreements: Vec<Disagreement> = games
        .iter()
        .filter_map(|(k, (vs, _))| {
            let outcomes: Vec<f64> = vs
                .iter()
                .flatten()
                .filter_map(|w| outcome_for_1(*w))
                .collect();
            spread(&outcomes).map(|spread| Disagreement {
                question_id: k.0.to_string(),
                model_1: k.1.clone(),
                model_2: Some(k.2.clone()),
                turn: k.3,
                spread,
                verdicts: judges
                    .iter()
                    .zip(vs)
                    .map(|(j, v)| {
                        (
                            j.clone(),
                            v.map_or("-".into(), |w| {
                                format!("{} / {}", say(w[0], k), say(w[1], k))
                            }),
                        )
                    })
                    .collect(),
            })
        })
        .collect();
    let agreement = pairwise_agreement(&judge_votes(&all)).pairs;
    report.spend = panel_spend(reports);
    report.panel = Some(panel(
        judges,
        pool,
        agreement,
        reports,
        figure,
        disagreements,
        opts,
    ));
    report
}

type GameKey = (QuestionId, String, String, u32);
/// A game's verdicts by judge, and its first record (what the pooled record copies).
type GameVerdicts<'a> = BTreeMap<GameKey, (Vec<Option<[Winner; 2]>>, &'a PairGame)>;

/// Each game's verdicts by judge (in the panel's order; `None`: that judge has none).
fn by_game(judges: usize, rows: &[Vec<PairGame>]) -> GameVerdicts<'_> {
    let mut games: GameVerdicts = BTreeMap::new();
    for (j, judge_rows) in rows.iter().enumerate() {
        for r in judge_rows {
            let key = (
                r.question_id.clone(),
                r.model_1.to_string(),
                r.model_2.to_string(),
                r.turn,
            );
            let e = games.entry(key).or_insert_with(|| (vec![None; judges], r));
            e.0[j] = Some([r.g1_winner, r.g2_winner]);
        }
    }
    games
}

/// The panel's games: each order's verdict by the majority of the judges (`rows[j]`: judge
/// `j`'s games), under the panel's name.
pub fn pool_games(judges: &[String], rows: &[Vec<PairGame>]) -> Vec<PairGame> {
    let name = panel_name(judges);
    let order = |vs: &[Option<[Winner; 2]>], o: usize| -> Winner {
        let ws: Vec<Winner> = vs.iter().flatten().map(|w| w[o]).collect();
        pool_winners(&ws)
    };
    by_game(judges.len(), rows)
        .values()
        .map(|(vs, first)| PairGame {
            judge: JudgeName(Name::intern(&name)),
            g1_winner: order(vs, 0),
            g2_winner: order(vs, 1),
            sample: None,
            samples: Default::default(),
            ..(*first).clone()
        })
        .collect()
}

/// A panel model's adjusted win rate interval, resampling the judges and then the games;
/// each game counted as the figures count it (see [`counted`]).
fn win_rate_interval(
    model: &str,
    games: &GameVerdicts,
    judges: usize,
    opts: &StatsOptions,
    index: &AnswerIndex,
) -> Option<[f64; 2]> {
    type Verdict = ([Winner; 2], (Option<bool>, Option<bool>));
    // Each game of the model: its verdicts by judge, oriented so model_1 is the model.
    let of_model: Vec<Vec<Option<Verdict>>> = games
        .iter()
        .filter_map(|((_, m1, m2, _), (vs, first))| {
            let (off1, off2) = off_languages(first, index);
            if m1 == model {
                Some(vs.iter().map(|v| v.map(|w| (w, (off1, off2)))).collect())
            } else if m2 == model {
                let turned = |w: [Winner; 2]| [flip(w[1]), flip(w[0])];
                Some(
                    vs.iter()
                        .map(|v| v.map(|w| (turned(w), (off2, off1))))
                        .collect(),
                )
            } else {
                None
            }
        })
        .collect();
    two_level(&of_model, judges, opts, model, |vs| {
        let order = |o: usize| pool_winners(&vs.iter().map(|v| v.0[o]).collect::<Vec<_>>());
        let off = vs.first()?.1;
        match counted(combine(order(0), order(1)).0, off, opts) {
            GameOutcome::Model1 => Some(1.0),
            GameOutcome::Tie => Some(0.5),
            GameOutcome::Model2 => Some(0.0),
            GameOutcome::Error => None,
        }
    })
}

/// Intervals of the panel's Bradley-Terry ratings (and predicted win rates) by model: each
/// bootstrap round draws the judges with replacement, pools every game over them, then
/// resamples the games.
fn panel_rating_intervals(
    games: &GameVerdicts,
    judges: usize,
    baseline: Option<&str>,
    opts: &StatsOptions,
    answers: &AnswerIndex,
) -> BTreeMap<String, RatingIntervals> {
    let kept: Vec<_> = games
        .iter()
        .filter(|(k, _)| baseline.is_none_or(|b| k.1 == b || k.2 == b))
        .collect();
    let names: Vec<&str> = kept
        .iter()
        .flat_map(|(k, _)| [k.1.as_str(), k.2.as_str()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let off: Vec<_> = kept
        .iter()
        .map(|(_, (_, first))| off_languages(first, answers))
        .collect();
    let outcomes = |panel: &[usize]| -> Vec<(usize, usize, GameOutcome)> {
        kept.iter()
            .zip(&off)
            .filter_map(|((k, (vs, _)), off)| {
                let order = |o: usize| {
                    let ws: Vec<Winner> =
                        panel.iter().filter_map(|&j| vs[j]).map(|w| w[o]).collect();
                    pool_winners(&ws)
                };
                let outcome = counted(combine(order(0), order(1)).0, *off, opts);
                (outcome != GameOutcome::Error)
                    .then(|| (index[k.1.as_str()], index[k.2.as_str()], outcome))
            })
            .collect()
    };
    let everyone: Vec<usize> = (0..judges).collect();
    let redraw = |rng: &mut ChaCha8Rng| {
        let panel: Vec<usize> = (0..judges).map(|_| rng.random_range(0..judges)).collect();
        outcomes(&panel)
    };
    let anchor = baseline.and_then(|b| index.get(b).copied());
    let r = rate_redrawing(
        names.len(),
        &outcomes(&everyone),
        anchor,
        opts.bootstrap,
        Some(&redraw),
    );
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), (r.rating_ci[i], r.predicted_ci[i])))
        .collect()
}

/// A rating's interval, and of the win rate against the baseline it predicts.
type RatingIntervals = (Option<[f64; 2]>, Option<[f64; 2]>);

/// A game's outcome for its first model by the swap rule: 1 a win, ½ a tie, 0 a loss.
fn outcome_for_1(w: [Winner; 2]) -> Option<f64> {
    match combine(w[0], w[1]).0 {
        GameOutcome::Model1 => Some(1.0),
        GameOutcome::Tie => Some(0.5),
        GameOutcome::Model2 => Some(0.0),
        GameOutcome::Error => None,
    }
}

/// Highest minus lowest of two or more values (`None` for fewer, or all equal).
fn spread(xs: &[f64]) -> Option<f64> {
    let hi = xs.iter().copied().fold(f64::MIN, f64::max);
    let lo = xs.iter().copied().fold(f64::MAX, f64::min);
    (xs.len() >= 2 && hi > lo).then_some(hi - lo)
}

fn flip(w: Winner) -> Winner {
    match w {
        Winner::Model1 => Winner::Model2,
        Winner::Model2 => Winner::Model1,
        w => w,
    }
}

/// Most disagreement first, then in question order; at most `max` (0: all).
fn rank(d: &mut Vec<Disagreement>, max: usize) {
    d.sort_by(|a, b| b.spread.total_cmp(&a.spread));
    if max > 0 {
        d.truncate(max);
    }
}

/// A bootstrap that resamples the judges and the items: each round draws the panel's judges
/// with replacement, then the items, pools each drawn item over the drawn judges, and takes
/// the mean.
fn two_level<T: Copy>(
    items: &[Vec<Option<T>>],
    judges: usize,
    opts: &StatsOptions,
    name: &str,
    pool: impl Fn(&[T]) -> Option<f64>,
) -> Option<[f64; 2]> {
    let rounds = opts.bootstrap.rounds;
    if items.is_empty() || rounds == 0 || judges == 0 {
        return None;
    }
    let mut rng = rng_for(opts.bootstrap.seed, &format!("panel {name}"));
    let mut means = Vec::with_capacity(rounds);
    let mut drawn: Vec<T> = Vec::with_capacity(judges);
    for _ in 0..rounds {
        let panel: Vec<usize> = (0..judges).map(|_| rng.random_range(0..judges)).collect();
        let (mut sum, mut n) = (0.0, 0usize);
        for _ in 0..items.len() {
            let item = &items[rng.random_range(0..items.len())];
            drawn.clear();
            drawn.extend(panel.iter().filter_map(|&j| item[j]));
            if let Some(v) = pool(&drawn) {
                sum += v;
                n += 1;
            }
        }
        if n > 0 {
            means.push(sum / n as f64);
        }
    }
    interval(means)
}

/// Each judge's figures, from its own report.
fn by_judge(
    judges: &[String],
    reports: &[Report],
    figure: impl Fn(&Report, &str) -> Option<f64>,
) -> Vec<JudgeFigures> {
    judges
        .iter()
        .zip(reports)
        .map(|(j, r)| {
            let judged: usize = r.coverage.iter().map(|c| c.judged).sum();
            let failed: usize = r.coverage.iter().map(|c| c.failed).sum();
            let fam = family(j);
            let models: Vec<String> = r
                .models
                .iter()
                .map(|m| match m {
                    ModelSummary::Single(s) => s.model.clone(),
                    ModelSummary::Pair(p) => p.model.clone(),
                })
                .collect();
            let own: Vec<String> = models
                .iter()
                .filter(|m| *m == j || (fam.is_some() && family(m) == fam))
                .cloned()
                .collect();
            // Its figure of each own-family model against the other judges' mean of it.
            let gaps: Vec<f64> = own
                .iter()
                .filter_map(|m| {
                    let mine = figure(r, m)?;
                    let others: Vec<f64> = reports
                        .iter()
                        .zip(judges)
                        .filter(|(_, o)| *o != j)
                        .filter_map(|(o, _)| figure(o, m))
                        .collect();
                    (!others.is_empty())
                        .then(|| mine - others.iter().sum::<f64>() / others.len() as f64)
                })
                .collect();
            let rows: Vec<&SpendRow> = r
                .spend
                .iter()
                .filter(|s| s.stage == Stage::Judge && s.model == *j)
                .collect();
            let tried = judged + failed;
            JudgeFigures {
                judge: j.clone(),
                judged,
                failed,
                failure_rate: (tried > 0).then(|| failed as f64 / tried as f64),
                own_family: own,
                self_preference: (!gaps.is_empty())
                    .then(|| gaps.iter().sum::<f64>() / gaps.len() as f64),
                consistency: r.position_bias.as_ref().and_then(|p| p.consistency),
                first_position_win_rate: r
                    .position_bias
                    .as_ref()
                    .and_then(|p| p.first_position_win_rate),
                requests: rows
                    .iter()
                    .map(|s| s.spend.requests + s.spend.cache_hits)
                    .sum(),
                cost: total_cost(rows.iter().copied()),
            }
        })
        .collect()
}

/// What the panel spent: the answers once, and every judge's judging.
fn panel_spend(reports: &[Report]) -> Vec<SpendRow> {
    let mut out: Vec<SpendRow> = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        for s in &r.spend {
            if s.stage == Stage::Judge || i == 0 {
                out.push(s.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(q: u32, judge: &str, g: &str) -> PairGame {
        serde_json::from_value(serde_json::json!({
            "question_id": q, "model_1": "a", "model_2": "b", "g1_winner": g, "g2_winner": g,
            "judge": [judge, "pair"], "turn": 1
        }))
        .unwrap()
    }

    #[test]
    fn the_panels_rating_intervals_resample_its_judges() {
        // x always prefers a, y always b: pooled, every game is a tie, so resampling the
        // games alone would give the ratings no width at all. Redrawing the judges does.
        let judges = ["x".to_string(), "y".to_string()];
        let rows: Vec<Vec<PairGame>> = [("x", "model_1"), ("y", "model_2")]
            .iter()
            .map(|(j, g)| (1..=20).map(|q| game(q, j, g)).collect())
            .collect();
        let opts = StatsOptions::default();
        let r = pooled_pairs(
            &judges,
            &rows,
            &[],
            Pool::Majority,
            None,
            &opts,
            &AnswerIndex::default(),
            None,
        );
        let ModelSummary::Pair(a) = &r.models[0] else {
            panic!()
        };
        assert_eq!(a.adjusted_win_rate, Some(0.5));
        let [lo, hi] = a.bt_ci.unwrap();
        assert!(hi - lo > 100.0, "{lo} {hi}");
        // Judges who agree give the games-only interval back.
        let same: Vec<Vec<PairGame>> = ["x", "y"]
            .iter()
            .map(|j| {
                (1..=20)
                    .map(|q| game(q, j, if q % 3 == 0 { "model_2" } else { "model_1" }))
                    .collect()
            })
            .collect();
        let r = pooled_pairs(
            &judges,
            &same,
            &[],
            Pool::Majority,
            None,
            &opts,
            &AnswerIndex::default(),
            None,
        );
        let one = crate::aggregate::summarize_pairs(
            &same[0].iter().collect::<Vec<_>>(),
            None,
            &opts,
            &AnswerIndex::default(),
            None,
        );
        let bt = |m: &ModelSummary| match m {
            ModelSummary::Pair(p) => (p.bt_rating, p.bt_ci),
            _ => panic!(),
        };
        assert_eq!(bt(&r.models[0]).0, one.models[0].bt_rating);
        let (lo, hi) = (bt(&r.models[0]).1.unwrap(), one.models[0].bt_ci.unwrap());
        assert!(
            (lo[0] - hi[0]).abs() < 30.0 && (lo[1] - hi[1]).abs() < 30.0,
            "{lo:?} {hi:?}"
        );
    }

    #[test]
    fn grades_and_verdicts_pool_by_the_rule() {
        assert_eq!(pool_grades(&[2.0, 8.0, 8.0], Pool::Mean), Some(6.0));
        assert_eq!(pool_grades(&[2.0, 8.0, 9.0], Pool::Median), Some(8.0));
        assert_eq!(pool_grades(&[2.0, 8.0], Pool::Median), Some(5.0));
        assert_eq!(pool_grades(&[2.0, 8.0, 8.0], Pool::Majority), Some(8.0));
        // Three grades, each once: their median.
        assert_eq!(pool_grades(&[2.0, 5.0, 8.0], Pool::Majority), Some(5.0));
        assert_eq!(pool_grades(&[], Pool::Mean), None);
        use Winner::*;
        assert_eq!(pool_winners(&[Model1, Model1, Model2]), Model1);
        assert_eq!(pool_winners(&[Model1, Model2]), Tie);
        assert_eq!(pool_winners(&[Model1, Tie, Model2]), Tie);
        assert_eq!(pool_winners(&[Model2, Error, Error]), Model2);
        assert_eq!(pool_winners(&[Error]), Error);
    }
}
