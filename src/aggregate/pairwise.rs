//! Pairwise summaries: wins, losses and ties after combining both orders of each game, with
//! Bradley-Terry ratings and position-bias figures.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::answers::{AnswerIndex, off_language};
use super::bootstrap::counts_mean_interval;
use super::coverage::{Expectation, ModelCoverage, pair_coverage};
use super::length::{LcGame, length_controlled};
use super::position::{PositionBias, measure_position};
use super::ratings::{Ratings, rate};
use super::samples::{Sampling, pair_sampling};
use super::style::{self, StyleControl, StyleGame, StyleGames, style_rate};
use super::{LengthBias, StatsOptions, ratio};
use crate::records::text::TextStats;
use crate::records::{Current, PairGame};
use crate::types::{QuestionId, Winner};

/// The combined result of both orders of one game.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameOutcome {
    /// Both orders agree that `model_1` won.
    Model1,
    /// Both orders agree that `model_2` won.
    Model2,
    /// A tie: either order said tie, or the orders disagree.
    Tie,
    /// At least one order has no verdict.
    Error,
}

/// FastChat's swap rule. Returns the outcome and whether the two orders agree (undefined, and
/// reported `false`, for error games).
pub fn combine(g1: Winner, g2: Winner) -> (GameOutcome, bool) {
    match (g1, g2) {
        (Winner::Error, _) | (_, Winner::Error) => (GameOutcome::Error, false),
        (a, b) if a != b => (GameOutcome::Tie, false),
        (Winner::Model1, _) => (GameOutcome::Model1, true),
        (Winner::Model2, _) => (GameOutcome::Model2, true),
        _ => (GameOutcome::Tie, true),
    }
}

/// One model's pairwise figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairSummary {
    /// The model.
    pub model: String,
    /// Games counted in the rates.
    pub n: usize,
    /// Games with no verdict in at least one order (left out of the rates, or counted as ties
    /// with `--errors-as-ties`).
    pub errors: usize,
    /// Games won.
    pub wins: usize,
    /// Games lost.
    pub losses: usize,
    /// Games tied (including orders that disagree).
    pub ties: usize,
    /// wins / n.
    pub win_rate: Option<f64>,
    /// losses / n.
    pub loss_rate: Option<f64>,
    /// (wins + ties / 2) / n.
    pub adjusted_win_rate: Option<f64>,
    /// 95% bootstrap interval of the adjusted win rate (resampling games).
    pub adjusted_win_rate_ci: Option<[f64; 2]>,
    /// Share of games (with a verdict in both orders) whose two orders agree.
    pub position_consistency: Option<f64>,
    /// Bradley-Terry rating, Elo scale, baseline (or the mean) at 1000; `null` when the
    /// games put no bound on it (see `bt_not_estimable`).
    pub bt_rating: Option<f64>,
    /// 95% bootstrap interval of the rating.
    pub bt_ci: Option<[f64; 2]>,
    /// Why `bt_rating` is `null`: the model won, or lost, every game that links it to the
    /// others, so only the prior would bound it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bt_not_estimable: Option<String>,
    /// Style-controlled Bradley-Terry rating (Elo scale, anchored as `bt_rating`): the rating
    /// with answer length and Markdown density held equal (see the report's
    /// `style_control`); `null` where `bt_rating` is, or when the answers are not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style_bt_rating: Option<f64>,
    /// Its 95% bootstrap interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style_bt_ci: Option<[f64; 2]>,
    /// Win probability against the baseline that the ratings imply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_win_rate: Option<f64>,
    /// 95% bootstrap interval of the predicted win rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_win_rate_ci: Option<[f64; 2]>,
    /// Length-controlled win rate against the baseline: the win rate predicted at equal
    /// answer length, from one joint fit of every model's games against the baseline (see
    /// [`super::length::length_controlled`]), beside the raw `adjusted_win_rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lc_win_rate: Option<f64>,
    /// The mean of its share of continuous preferences (AlpacaEval's `win_rate`), when the
    /// verdicts give them; `adjusted_win_rate` is then the discrete one (a preference above
    /// ½ a win, ½ a tie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference_win_rate: Option<f64>,
    /// Arena-Hard-Auto's score (its judgments only): each order of a game a battle, a strong
    /// verdict (`A>>B`) three, a tie half a win; the mean of the battles' outcomes. Beside
    /// it, the swap rule's `adjusted_win_rate` of the same games.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arena_hard_score: Option<f64>,
    /// Mean answer length in characters over the games counted.
    pub answer_chars: Option<f64>,
    /// Mean characters of its thinking per answer turn (reasoning models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_chars: Option<f64>,
    /// Share of the model's answers to Japanese questions that are not in Japanese.
    pub non_japanese: Option<f64>,
}

/// Everything computed from one judge's pairwise games.
#[derive(Debug, Clone)]
pub struct PairwiseResult {
    /// One entry per model (the baseline left out), best first.
    pub models: Vec<PairSummary>,
    /// Position-bias figures over the same games.
    pub position: PositionBias,
    /// Length-bias figures, when answer lengths are known.
    pub length: Option<LengthBias>,
    /// Disagreement of repeated judgments, when games were judged several times.
    pub sampling: Option<Sampling>,
    /// Per model: games expected, judged, failed and missing.
    pub coverage: Vec<ModelCoverage>,
    /// Style control's coefficients, when answers' lengths and Markdown are known.
    pub style: Option<StyleControl>,
}

#[derive(Default)]
struct Tally {
    wins: usize,
    losses: usize,
    ties: usize,
    errors: usize,
    consistent: usize,
    judged: usize,
    /// Sum and count of its answers' lengths (integers: the mean is exact in any order).
    chars: (u64, usize),
    off_language: usize,
    language_known: usize,
    /// Games against the baseline, for the length-controlled win rate.
    vs_baseline: Vec<LcGame>,
    /// Sum and count of its share of continuous preferences (AlpacaEval's annotations).
    preference: (f64, usize),
    /// Its battle points and battles in Arena-Hard-Auto's scoring (Arena-Hard's records).
    battles: (f64, u64),
}

/// Everything counted over the games, before the ratings.
struct Counts {
    tallies: Vec<Tally>,
    /// Combined outcomes as (model_1, model_2, outcome), for the ratings.
    outcomes: Vec<(usize, usize, GameOutcome)>,
    /// Games with both answers known, for the style-controlled ratings.
    style: StyleGames,
    /// (length of model_1's answer − model_2's, outcome from model_1's side) per game.
    length_pairs: super::length::PearsonSums,
}

/// Summarises pairwise games per model, best first. With a baseline, only games against it
/// count and the baseline itself is not listed (each row is from the other model's side,
/// whichever position the baseline held); without one, every game counts for both players.
/// The records that count are chosen by [`crate::records::current`].
pub fn summarize_pairs(
    rows: &[&PairGame],
    baseline: Option<&str>,
    opts: &StatsOptions,
    answers: &AnswerIndex,
    expected: Option<&Expectation>,
) -> PairwiseResult {
    let current = Current::games(rows);
    let rows = current.rows();
    let sampling = pair_sampling(&rows, opts.max_listed);
    let coverage = pair_coverage(&rows, baseline, expected);
    let games: Vec<&PairGame> = rows
        .into_iter()
        .filter(|r| baseline.is_none_or(|b| r.model_1 == b || r.model_2 == b))
        .collect();
    let names: Vec<&str> = games
        .iter()
        .flat_map(|r| [r.model_1.as_str(), r.model_2.as_str()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let anchor = baseline.and_then(|b| index.get(b).copied());
    let counts = count(&games, &index, anchor, opts, answers);
    let ratings = rate(names.len(), &counts.outcomes, anchor, opts.bootstrap);
    let estimable: Vec<bool> = ratings.rating.iter().map(Option::is_some).collect();
    let styled = style_rate(
        names.len(),
        &counts.style,
        anchor,
        &estimable,
        opts.bootstrap,
    );
    // One joint fit of every model's games against the baseline.
    let against: Vec<LcGame> = counts
        .tallies
        .iter()
        .flat_map(|t| t.vs_baseline.iter().copied())
        .collect();
    let lc = length_controlled(&against, names.len());
    let mut models: Vec<PairSummary> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != anchor)
        .map(|(i, model)| PairSummary {
            reasoning_chars: answers.reasoning_chars(model),
            style_bt_rating: styled.rating[i],
            style_bt_ci: styled.rating_ci[i],
            ..summary(model, i, &counts.tallies[i], &ratings, lc[i], opts)
        })
        .collect();
    models.sort_by(|a, b| {
        b.adjusted_win_rate
            .unwrap_or(-1.0)
            .total_cmp(&a.adjusted_win_rate.unwrap_or(-1.0))
            .then_with(|| a.model.cmp(&b.model))
    });
    let position = measure_position(&games, &index, &names, opts.bootstrap, opts.max_listed);
    let length = (counts.length_pairs.n > 0).then(|| LengthBias {
        n: counts.length_pairs.n,
        correlation: counts.length_pairs.correlation(),
    });
    PairwiseResult {
        models,
        position,
        length,
        sampling,
        coverage,
        style: styled.control,
    }
}

/// Whether each answer of a game is off the question's language (`None`: not known).
pub(super) fn off_languages(r: &PairGame, answers: &AnswerIndex) -> (Option<bool>, Option<bool>) {
    answers_of(r, answers).2
}

/// A game's two answers (embedded, or from the answer files) and whether each is off the
/// question's language.
type GameAnswers = (
    Option<TextStats>,
    Option<TextStats>,
    (Option<bool>, Option<bool>),
);

fn answers_of(r: &PairGame, answers: &AnswerIndex) -> GameAnswers {
    let (qid, turn) = (r.question_id.as_str(), r.turn);
    let a1 = r.answer_1.or_else(|| answers.answer(&r.model_1, qid, turn));
    let a2 = r.answer_2.or_else(|| answers.answer(&r.model_2, qid, turn));
    let q_ja = r
        .question
        .and_then(|q| q.japanese)
        .or_else(|| answers.question_japanese(qid, turn));
    (a1, a2, (off_language(q_ja, a1), off_language(q_ja, a2)))
}

/// A game's combined outcome as the figures count it: an error as a tie with
/// `--errors-as-ties`; an answer off the question's language as a loss with
/// `--non-japanese-as-failure`.
pub(super) fn counted(
    mut outcome: GameOutcome,
    (off1, off2): (Option<bool>, Option<bool>),
    opts: &StatsOptions,
) -> GameOutcome {
    if outcome == GameOutcome::Error && opts.errors_as_ties {
        outcome = GameOutcome::Tie;
    }
    if opts.non_japanese_as_failure && outcome != GameOutcome::Error {
        match (off1, off2) {
            (Some(true), Some(true)) => {}
            (Some(true), _) => outcome = GameOutcome::Model2,
            (_, Some(true)) => outcome = GameOutcome::Model1,
            _ => {}
        }
    }
    outcome
}

/// Combines each game's two orders (FastChat's rule, then the options: errors as ties, answers
/// not in Japanese as losses) and counts it for both players.
fn count(
    games: &[&PairGame],
    index: &HashMap<&str, usize>,
    anchor: Option<usize>,
    opts: &StatsOptions,
    answers: &AnswerIndex,
) -> Counts {
    let mut c = Counts {
        tallies: (0..index.len()).map(|_| Tally::default()).collect(),
        outcomes: Vec::with_capacity(games.len()),
        length_pairs: Default::default(),
        style: StyleGames::default(),
    };
    // Each (question, turn) numbered in their order, for the questions' difficulty in the
    // length control (so the fit does not depend on the order of the games); only games
    // against a baseline have one.
    let questions: HashMap<(&str, u32), usize> = match anchor {
        Some(_) => {
            let mut keys: Vec<(&QuestionId, u32)> = games
                .iter()
                .map(|r| (&r.question_id, r.turn))
                .collect::<std::collections::HashSet<_>>()
                .into_iter()
                .collect();
            keys.sort();
            keys.iter()
                .enumerate()
                .map(|(i, (q, t))| ((q.as_str(), *t), i))
                .collect()
        }
        None => HashMap::new(),
    };
    for r in games {
        let (combined, consistent) = combine(r.g1_winner, r.g2_winner);
        let (i1, i2) = (index[r.model_1.as_str()], index[r.model_2.as_str()]);
        let (qid, turn) = (r.question_id.as_str(), r.turn);
        let (a1, a2, off) = answers_of(r, answers);
        let (off1, off2) = off;
        let error = combined == GameOutcome::Error;
        let outcome = counted(combined, off, opts);
        if outcome != GameOutcome::Error {
            c.outcomes.push((i1, i2, outcome));
        }
        let y1 = match outcome {
            // A continuous preference counts as given, unless an option overrode the verdict.
            _ if outcome == combined && r.preference.is_some() => 1.0 - r.preference.unwrap_or(0.5),
            GameOutcome::Model1 => 1.0,
            GameOutcome::Model2 => 0.0,
            _ => 0.5,
        };
        let question = questions.get(&(qid, turn)).copied().unwrap_or(0);
        if let (Some(a), Some(b)) = (a1, a2)
            && outcome != GameOutcome::Error
        {
            c.length_pairs.add(a.chars as f64 - b.chars as f64, y1);
            // The verdict as the plain ratings count it (a continuous preference rounded).
            let discrete = match outcome {
                GameOutcome::Model1 => 1.0,
                GameOutcome::Model2 => 0.0,
                _ => 0.5,
            };
            c.style.add(StyleGame {
                a: i1,
                b: i2,
                features: style::features(a, b),
                y: discrete,
            });
        }
        let (points, battles) = arena_hard_battles(r);
        for (me, other, my_win, mine, theirs, off, sign) in [
            (i1, i2, GameOutcome::Model1, a1, a2, off1, 1.0),
            (i2, i1, GameOutcome::Model2, a2, a1, off2, -1.0),
        ] {
            let t = &mut c.tallies[me];
            if error {
                t.errors += 1;
            } else if !r.one_order {
                // A game judged in one order says nothing of position consistency.
                t.judged += 1;
                t.consistent += usize::from(consistent);
            }
            match outcome {
                GameOutcome::Error => {}
                GameOutcome::Tie => t.ties += 1,
                o if o == my_win => t.wins += 1,
                _ => t.losses += 1,
            }
            if let Some(a) = mine {
                t.chars.0 += u64::from(a.chars);
                t.chars.1 += 1;
            }
            if let Some(off) = off {
                t.language_known += 1;
                t.off_language += usize::from(off);
            }
            let my_share = if sign > 0.0 { y1 } else { 1.0 - y1 };
            if let (Some(a), Some(b)) = (mine, theirs)
                && Some(other) == anchor
                && outcome != GameOutcome::Error
            {
                t.vs_baseline.push(LcGame {
                    model: me,
                    question,
                    log_ratio: ((f64::from(a.chars) + 1.0) / (f64::from(b.chars) + 1.0)).ln(),
                    y: my_share,
                });
            }
            if r.preference.is_some() && outcome != GameOutcome::Error {
                t.preference.0 += my_share;
                t.preference.1 += 1;
            }
            t.battles.0 += if sign > 0.0 {
                points
            } else {
                battles as f64 - points
            };
            t.battles.1 += battles;
        }
    }
    c
}

/// model_1's points and the battles of a game in Arena-Hard-Auto's scoring: each order a
/// battle of its own, a strong verdict three, a tie half a point; a game with an order
/// without a verdict none (its `load_judgments` drops such records).
fn arena_hard_battles(r: &PairGame) -> (f64, u64) {
    let orders = [r.g1_winner, r.g2_winner];
    if orders.contains(&Winner::Error) {
        return (0.0, 0);
    }
    orders
        .into_iter()
        .zip(r.battles)
        .fold((0.0, 0), |(p, n), (w, b)| {
            let first = match w {
                Winner::Model1 => 1.0,
                Winner::Tie => 0.5,
                _ => 0.0,
            };
            (p + f64::from(b) * first, n + u64::from(b))
        })
}

/// One model's line: its tally, its rating, and its length-controlled win rate.
fn summary(
    model: &str,
    i: usize,
    t: &Tally,
    ratings: &Ratings,
    lc_win_rate: Option<f64>,
    opts: &StatsOptions,
) -> PairSummary {
    let n = t.wins + t.losses + t.ties;
    let adjusted_win_rate_ci = counts_mean_interval(
        &[1.0, 0.5, 0.0],
        &[t.wins as u64, t.ties as u64, t.losses as u64],
        opts.bootstrap,
        &format!("adjusted\u{1f}{model}"),
    );
    PairSummary {
        model: model.to_string(),
        n,
        errors: t.errors,
        wins: t.wins,
        losses: t.losses,
        ties: t.ties,
        win_rate: ratio(t.wins, n),
        loss_rate: ratio(t.losses, n),
        adjusted_win_rate: (n > 0).then(|| (t.wins as f64 + 0.5 * t.ties as f64) / n as f64),
        adjusted_win_rate_ci,
        position_consistency: ratio(t.consistent, t.judged),
        bt_rating: ratings.rating.get(i).copied().flatten(),
        bt_ci: ratings.rating_ci.get(i).copied().flatten(),
        bt_not_estimable: ratings.not_estimable.get(i).cloned().flatten(),
        style_bt_rating: None,
        style_bt_ci: None,
        predicted_win_rate: ratings.predicted.get(i).copied().flatten(),
        predicted_win_rate_ci: ratings.predicted_ci.get(i).copied().flatten(),
        lc_win_rate,
        preference_win_rate: (t.preference.1 > 0).then(|| t.preference.0 / t.preference.1 as f64),
        arena_hard_score: (t.battles.1 > 0).then(|| t.battles.0 / t.battles.1 as f64),
        answer_chars: (t.chars.1 > 0).then(|| t.chars.0 as f64 / t.chars.1 as f64),
        reasoning_chars: None,
        non_japanese: ratio(t.off_language, t.language_known),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Winner::*;

    #[test]
    fn swap_rule() {
        assert_eq!(combine(Model1, Model1), (GameOutcome::Model1, true));
        assert_eq!(combine(Model2, Model2), (GameOutcome::Model2, true));
        assert_eq!(combine(Tie, Tie), (GameOutcome::Tie, true));
        assert_eq!(combine(Model1, Model2), (GameOutcome::Tie, false));
        assert_eq!(combine(Tie, Model1), (GameOutcome::Tie, false));
        assert_eq!(combine(Model1, Error).0, GameOutcome::Error);
        assert_eq!(combine(Error, Tie).0, GameOutcome::Error);
    }
}
