//! The table model shared by the terminal and Markdown exporters, and the cells they format.
//! Each table carries a one-line plain explanation of its figures, which Markdown prints.

use unicode_width::UnicodeWidthStr;

use crate::aggregate::{Mode, ModelSummary, PairSummary, PositionBias, Report, SingleSummary};

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A titled table of strings.
#[derive(Debug, Clone)]
pub struct Table {
    /// Heading shown above the table.
    pub title: String,
    /// Column headers.
    pub headers: Vec<String>,
    /// Alignment per column.
    pub align: Vec<Align>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// What the figures mean, in one or two plain sentences.
    pub note: String,
}

/// Display width of a string in terminal columns (CJK characters count two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Pads `s` to `w` columns.
pub fn pad(s: &str, w: usize, align: Align) -> String {
    let fill = " ".repeat(w.saturating_sub(width(s)));
    match align {
        Align::Left => format!("{s}{fill}"),
        Align::Right => format!("{fill}{s}"),
    }
}

/// A figure with `digits` decimals, or `-`.
pub fn num(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn ci(v: Option<[f64; 2]>, digits: usize) -> String {
    v.map(|[lo, hi]| format!("[{lo:.digits$}, {hi:.digits$}]"))
        .unwrap_or_else(|| "-".into())
}

/// How many inconsistent games the tables list (JSON lists them all).
const LISTED: usize = 20;

/// The tables that present one report.
pub fn tables(r: &Report) -> Vec<Table> {
    let title = match (&r.mode, &r.baseline) {
        (Mode::PairwiseBaseline, Some(b)) => {
            format!("{} (judge: {}, baseline: {b})", r.mode.as_str(), r.judge)
        }
        _ => format!("{} (judge: {})", r.mode.as_str(), r.judge),
    };
    let singles: Vec<&SingleSummary> = r
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Single(s) => Some(s),
            _ => None,
        })
        .collect();
    let pairs: Vec<&PairSummary> = r
        .models
        .iter()
        .filter_map(|m| match m {
            ModelSummary::Pair(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    if !singles.is_empty() {
        single_tables(&title, &singles, &mut out);
    }
    if !pairs.is_empty() {
        out.push(pair_table(&title, r, &pairs));
    }
    if !r.same_family_as_judge.is_empty() {
        out.push(table(
            format!("{title}: self-preference risk"),
            vec!["model", "family"],
            r.same_family_as_judge
                .iter()
                .map(|m| {
                    let f = crate::aggregate::family::family(m).unwrap_or("-");
                    vec![m.clone(), f.to_string()]
                })
                .collect(),
            "These models share the judge's model family; judges tend to favour their own family, \
             so compare their figures with another judge's before trusting them.",
        ));
    }
    if let Some(p) = &r.position_bias {
        position_tables(&title, p, &mut out);
    }
    if let Some(s) = &r.sampling {
        let spread = if r.mode.is_graded() {
            "mean range of an item's grades (max − min)"
        } else {
            "mean share of an item's judgments that differ from the majority"
        };
        out.push(table(
            format!("{title}: repeated judging"),
            vec!["measure", "value"],
            vec![
                vec!["judgments per item (most)".into(), s.samples.to_string()],
                vec!["items judged repeatedly".into(), s.items.to_string()],
                vec!["unstable items".into(), s.unstable_items.to_string()],
                vec![spread.into(), num(Some(s.mean_spread), 3)],
            ],
            "Every item was judged several times (--judge-samples); the figures above use the \
             median grade (single) or each order's majority verdict (pairwise). Unstable items \
             got different verdicts from the same judge on the same answers: run-to-run drift.",
        ));
        if !s.unstable.is_empty() {
            let rows = s
                .unstable
                .iter()
                .take(LISTED)
                .map(|u| {
                    let values: Vec<String> = u.values.iter().map(|v| format!("{v}")).collect();
                    vec![
                        u.question_id.clone(),
                        u.turn.to_string(),
                        u.model.clone(),
                        values.join(" / "),
                        num(Some(u.spread), 2),
                    ]
                })
                .collect();
            out.push(table(
                format!("{title}: least stable items"),
                vec!["question", "turn", "model", "verdicts", "spread"],
                rows,
                "Items whose repeated judgments disagreed most (pairwise verdicts as 1 = model_1 \
                 won, 0.5 = tie, 0 = model_2 won); the JSON report lists up to --max-listed.",
            ));
        }
    }
    if let Some(l) = &r.length_bias {
        let what = if r.mode.is_graded() {
            "Correlation of each grade with its answer's length (characters)"
        } else {
            "Correlation of each game's outcome for model_1 (win 1, tie ½, loss 0) with model_1's \
             answer length minus model_2's"
        };
        out.push(table(
            format!("{title}: length bias"),
            vec!["measure", "value"],
            vec![
                vec!["rows with known lengths".into(), l.n.to_string()],
                vec!["length correlation".into(), num(l.correlation, 3)],
            ],
            &format!("{what}; near 0 means the judge is not swayed by length, towards 1 that longer answers win."),
        ));
    }
    out
}

fn single_tables(title: &str, singles: &[&SingleSummary], out: &mut Vec<Table>) {
    let has_turn2 = singles.iter().any(|s| s.turn2.is_some());
    let has_text = singles.iter().any(|s| s.answer_chars.is_some());
    let mut headers = vec!["model", "score", "95% CI", "turn 1"];
    if has_turn2 {
        headers.push("turn 2");
    }
    headers.extend(["n", "errors"]);
    if has_text {
        headers.extend(["chars", "non-ja"]);
    }
    let rows = singles
        .iter()
        .map(|s| {
            let mut row = vec![
                s.model.clone(),
                num(s.score, 2),
                ci(s.score_ci, 2),
                num(s.turn1, 2),
            ];
            if has_turn2 {
                row.push(num(s.turn2, 2));
            }
            row.extend([s.n.to_string(), s.errors.to_string()]);
            if has_text {
                row.extend([num(s.answer_chars, 0), num(s.non_japanese, 3)]);
            }
            row
        })
        .collect();
    out.push(table(
        title.to_string(),
        headers,
        rows,
        "Score: mean 1-10 grade over every graded turn; 95% CI: bootstrap interval of that mean; \
         n: graded rows; errors: judgments without a readable verdict, left out of every mean; \
         chars: mean answer length in characters; non-ja: share of answers to Japanese \
         questions that are not in Japanese (by script).",
    ));
    let mut aspects: Vec<&String> = singles.iter().flat_map(|s| s.aspects.keys()).collect();
    aspects.sort();
    aspects.dedup();
    if !aspects.is_empty() {
        let mut headers: Vec<&str> = vec!["model"];
        headers.extend(aspects.iter().map(|a| a.as_str()));
        let rows = singles
            .iter()
            .map(|s| {
                let mut row = vec![s.model.clone()];
                row.extend(aspects.iter().map(|a| match s.aspects.get(*a) {
                    Some(x) => format!("{} {}", num(x.score, 2), ci(x.score_ci, 1)),
                    None => "-".into(),
                }));
                row
            })
            .collect();
        out.push(table(
            format!("{title}: score per aspect"),
            headers,
            rows,
            "Mean grade per rubric aspect with its 95% bootstrap interval; the score above is \
             the weighted mean of the aspects (--aspect-weights).",
        ));
    }
    let mut cats: Vec<&String> = singles.iter().flat_map(|s| s.categories.keys()).collect();
    cats.sort();
    cats.dedup();
    if cats.is_empty() {
        return;
    }
    let mut headers: Vec<&str> = vec!["model"];
    headers.extend(cats.iter().map(|c| c.as_str()));
    let rows = singles
        .iter()
        .map(|s| {
            let mut row = vec![s.model.clone()];
            row.extend(cats.iter().map(|c| {
                let c = s.categories.get(*c);
                match c {
                    Some(c) => format!("{} {}", num(c.score, 2), ci(c.score_ci, 1)),
                    None => "-".into(),
                }
            }));
            row
        })
        .collect();
    out.push(table(
        format!("{title}: score per category"),
        headers,
        rows,
        "Mean grade per question category, with its 95% bootstrap interval; few questions per \
         category make wide intervals.",
    ));
}

fn pair_table(title: &str, r: &Report, pairs: &[&PairSummary]) -> Table {
    let with_baseline = r.baseline.is_some();
    let mut headers = vec![
        "model",
        "wins",
        "losses",
        "ties",
        "errors",
        "win rate",
        "loss rate",
        "adjusted",
        "consistency",
        "BT rating",
        "95% CI",
    ];
    if with_baseline {
        headers.extend(["pred. win", "95% CI"]);
    }
    let has_text = pairs.iter().any(|p| p.answer_chars.is_some());
    let has_lc = pairs.iter().any(|p| p.lc_win_rate.is_some());
    if has_lc {
        headers.push("LC win");
    }
    if has_text {
        headers.extend(["chars", "non-ja"]);
    }
    let rows = pairs
        .iter()
        .map(|p| {
            let mut row = vec![
                p.model.clone(),
                p.wins.to_string(),
                p.losses.to_string(),
                p.ties.to_string(),
                p.errors.to_string(),
                num(p.win_rate, 3),
                num(p.loss_rate, 3),
                num(p.adjusted_win_rate, 3),
                num(p.position_consistency, 3),
                num(p.bt_rating, 0),
                ci(p.bt_ci, 0),
            ];
            if with_baseline {
                row.push(num(p.predicted_win_rate, 3));
                row.push(ci(p.predicted_win_rate_ci, 3));
            }
            if has_lc {
                row.push(num(p.lc_win_rate, 3));
            }
            if has_text {
                row.extend([num(p.answer_chars, 0), num(p.non_japanese, 3)]);
            }
            row
        })
        .collect();
    let anchor = match &r.baseline {
        Some(b) => format!("{b} is fixed at 1000"),
        None => "the mean is 1000".to_string(),
    };
    table(
        title.to_string(),
        headers,
        rows,
        &format!(
            "Each game is judged twice with the answers swapped; it is a tie when either order says \
             tie or the orders disagree. Adjusted = (wins + ties/2) / games; consistency = share of \
             games whose two orders agree; errors = games without a verdict in an order. BT rating: \
             Bradley-Terry strength on the Elo scale ({anchor}; +400 = 10:1 odds) with its 95% \
             bootstrap interval over games{}.",
            if r.baseline.is_some() {
                "; pred. win: the win rate against the baseline that the ratings imply; LC win: \
                 length-controlled win rate, the win rate predicted at equal answer length; \
                 chars: mean answer length; non-ja: share of answers to Japanese questions \
                 not in Japanese"
            } else {
                "; chars: mean answer length; non-ja: share of answers to Japanese questions \
                 not in Japanese"
            }
        ),
    )
}

fn position_tables(title: &str, p: &PositionBias, out: &mut Vec<Table>) {
    let rows = vec![
        vec![
            "games judged in both orders".into(),
            p.games.to_string(),
            String::new(),
        ],
        vec!["consistency".into(), num(p.consistency, 3), String::new()],
        vec![
            "first-position win rate".into(),
            num(p.first_position_win_rate, 3),
            format!("of {} decisive verdicts", p.decisive_verdicts),
        ],
        vec![
            "home advantage (Elo)".into(),
            num(p.home_advantage_elo, 1),
            ci(p.home_advantage_ci, 1),
        ],
        vec![
            "first-position win probability".into(),
            num(p.first_position_win_probability, 3),
            "between equal answers".into(),
        ],
    ];
    out.push(table(
        format!("{title}: position bias"),
        vec!["measure", "value", "95% CI / basis"],
        rows,
        "Consistency: share of games whose two orders agree. First-position win rate: share of \
         decisive single-order verdicts won by the answer shown first (0.5 = no bias). Home \
         advantage: the first position's edge in Elo points from a Bradley-Terry fit with a \
         position term, with its bootstrap interval (an interval excluding 0 is a real bias).",
    ));
    if p.inconsistent.is_empty() {
        return;
    }
    let rows = p
        .inconsistent
        .iter()
        .take(LISTED)
        .map(|g| {
            vec![
                g.question_id.to_string(),
                g.turn.to_string(),
                g.model_1.clone(),
                g.model_2.clone(),
                winner(g.g1_winner),
                winner(g.g2_winner),
            ]
        })
        .collect();
    let more = p.inconsistent_games.saturating_sub(LISTED);
    out.push(table(
        format!("{title}: inconsistent games"),
        vec![
            "question",
            "turn",
            "model_1",
            "model_2",
            "model_1 first",
            "model_2 first",
        ],
        rows,
        &format!(
            "Games whose verdict changed when the answers were swapped (winners named by model){}.",
            if more > 0 {
                format!("; {more} more (the JSON report lists up to --max-listed)")
            } else {
                String::new()
            }
        ),
    ));
}

fn winner(w: crate::types::Winner) -> String {
    use crate::types::Winner;
    match w {
        Winner::Model1 => "model_1",
        Winner::Model2 => "model_2",
        Winner::Tie => "tie",
        Winner::Error => "error",
    }
    .to_string()
}

/// Figures are right-aligned; names and words are left-aligned.
fn is_figure(cell: &str) -> bool {
    cell.is_empty()
        || cell
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '[')
}

/// Builds a table, right-aligning columns of figures.
pub fn table(title: String, headers: Vec<&str>, rows: Vec<Vec<String>>, note: &str) -> Table {
    let align = (0..headers.len())
        .map(|i| {
            let figures = rows.iter().all(|r| r.get(i).is_none_or(|c| is_figure(c)));
            if i > 0 && figures {
                Align::Right
            } else {
                Align::Left
            }
        })
        .collect();
    Table {
        title,
        headers: headers.into_iter().map(str::to_string).collect(),
        align,
        rows,
        note: note.to_string(),
    }
}

/// Column widths fitting headers and cells.
pub fn column_widths(t: &Table) -> Vec<usize> {
    (0..t.headers.len())
        .map(|i| {
            t.rows
                .iter()
                .map(|r| r.get(i).map(|c| width(c)).unwrap_or(0))
                .chain([width(&t.headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect()
}
