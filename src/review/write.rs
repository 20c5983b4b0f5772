//! The review export's formats: JSONL (one record per line, what `--labels` reads back), CSV
//! (one row per item, for a spreadsheet; also read back), and Markdown (for reading: per item,
//! the question, then the answers and the judge's explanations side by side).

use super::ReviewRecord;
use crate::types::Winner;

/// A review export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReviewFormat {
    /// One JSON record per line.
    #[default]
    Jsonl,
    /// Markdown: answers and rationales side by side, inconsistent items first.
    Md,
    /// CSV with a header row, for a spreadsheet.
    Csv,
}

impl ReviewFormat {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ReviewFormat::Jsonl => "jsonl",
            ReviewFormat::Md => "md",
            ReviewFormat::Csv => "csv",
        }
    }
}

/// The export in one format.
pub fn render(records: &[ReviewRecord], format: ReviewFormat) -> anyhow::Result<Vec<u8>> {
    match format {
        ReviewFormat::Jsonl => {
            let mut out = Vec::new();
            for r in records {
                serde_json::to_writer(&mut out, r)?;
                out.push(b'\n');
            }
            Ok(out)
        }
        ReviewFormat::Csv => csv(records),
        ReviewFormat::Md => Ok(markdown(records).into_bytes()),
    }
}

/// The CSV columns, in order; list fields hold their turns one per line, numbered.
pub(super) const COLUMNS: &[&str] = &[
    "mode",
    "judge",
    "question_id",
    "category",
    "turn",
    "questions",
    "reference",
    "model",
    "answer",
    "score",
    "scale",
    "aspects",
    "judgment",
    "model_1",
    "model_2",
    "answer_1",
    "answer_2",
    "g1_winner",
    "g2_winner",
    "g1_judgment",
    "g2_judgment",
    "result",
    "consistent",
    "judges_spread",
    "error",
    "label",
    "comment",
];

fn turns(v: &Option<Vec<String>>) -> String {
    v.as_ref()
        .map(|ts| {
            ts.iter()
                .enumerate()
                .map(|(i, t)| format!("[{}] {t}", i + 1))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn winner(w: Option<Winner>) -> String {
    w.map(|w| serde_json::to_value(w).unwrap_or_default())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn csv(records: &[ReviewRecord]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for r in records {
        let label = match &r.label {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        w.write_record([
            r.mode.clone(),
            r.judge.clone(),
            r.question_id.to_string(),
            r.category.clone(),
            r.turn.to_string(),
            turns(&Some(r.questions.clone())),
            turns(&r.reference),
            r.model.clone().unwrap_or_default(),
            turns(&r.answer),
            r.score.map(|s| s.to_string()).unwrap_or_default(),
            r.scale.map(|s| s.to_string()).unwrap_or_default(),
            r.aspects
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default())
                .unwrap_or_default(),
            r.judgment.clone().unwrap_or_default(),
            r.model_1.clone().unwrap_or_default(),
            r.model_2.clone().unwrap_or_default(),
            turns(&r.answer_1),
            turns(&r.answer_2),
            winner(r.g1_winner),
            winner(r.g2_winner),
            r.g1_judgment.clone().unwrap_or_default(),
            r.g2_judgment.clone().unwrap_or_default(),
            winner(r.result),
            r.consistent.to_string(),
            r.judges_spread.map(|s| s.to_string()).unwrap_or_default(),
            r.error.clone().unwrap_or_default(),
            label,
            r.comment.clone().unwrap_or_default(),
        ])?;
    }
    Ok(w.into_inner()?)
}

/// Text made safe in a Markdown table cell: HTML and pipes escaped, lines joined with `<br>`
/// (model text is untrusted and must not become markup).
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('\r', "")
        .replace('\n', "<br>")
}

fn cell_turns(v: &Option<Vec<String>>) -> String {
    match v {
        None => "(no answer)".into(),
        Some(ts) => ts
            .iter()
            .enumerate()
            .map(|(i, t)| format!("**[{}]** {}", i + 1, cell(t)))
            .collect::<Vec<_>>()
            .join("<br><br>"),
    }
}

fn markdown(records: &[ReviewRecord]) -> String {
    let mut out = String::from("# shinpan review\n\n");
    let inconsistent = records.iter().filter(|r| !r.consistent).count();
    let disputed = records.iter().filter(|r| r.judges_spread.is_some()).count();
    let disputes = if disputed > 0 {
        format!(
            "{disputed} disputed by the judges (listed first, most disputed first: the judges \
             who judged the item disagree); "
        )
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{} item(s); {disputes}{inconsistent} inconsistent (listed first: the two orders of a game, or the \
         repeated judgments of an item, disagree). Fill `label` and `comment` in the JSONL or CSV \
         export and read it back with `shinpan agreement RUN --labels FILE`.\n\n",
        records.len()
    ));
    let several_judges = records.iter().any(|r| r.judge != records[0].judge);
    for r in records {
        let mut flag = match r.judges_spread {
            Some(s) => format!(" — ⚖ judges disagree by {s}"),
            None => String::new(),
        };
        if !r.consistent {
            flag.push_str(" — ⚠ inconsistent");
        }
        let who = match (&r.model, &r.model_1, &r.model_2) {
            (Some(m), _, _) => cell(m),
            (None, Some(a), Some(b)) => format!("{} vs {}", cell(a), cell(b)),
            _ => String::new(),
        };
        let judge = if several_judges {
            format!(" · judge {}", cell(&r.judge))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "## Question {} · turn {} · {} · {who}{judge}{flag}\n\n",
            cell(&r.question_id.to_string()),
            r.turn,
            cell(&r.category)
        ));
        for (i, q) in r.questions.iter().enumerate() {
            out.push_str(&format!("> **Q{}** {}\n>\n", i + 1, cell(q)));
        }
        if let Some(refs) = &r.reference {
            out.push_str(&format!(
                "> **reference** {}\n",
                cell_turns(&Some(refs.clone()))
            ));
        }
        out.push('\n');
        if let (Some(m1), Some(m2)) = (&r.model_1, &r.model_2) {
            out.push_str(&format!(
                "| | {} (A in game 1) | {} (A in game 2) |\n| --- | --- | --- |\n",
                cell(m1),
                cell(m2)
            ));
            out.push_str(&format!(
                "| answer | {} | {} |\n",
                cell_turns(&r.answer_1),
                cell_turns(&r.answer_2)
            ));
            out.push_str(&format!(
                "| verdict | game 1: {} | game 2: {} |\n",
                winner(r.g1_winner),
                winner(r.g2_winner)
            ));
            out.push_str(&format!(
                "| judge | {} | {} |\n\n",
                cell(r.g1_judgment.as_deref().unwrap_or("")),
                cell(r.g2_judgment.as_deref().unwrap_or(""))
            ));
            out.push_str(&format!("**result**: {}", winner(r.result)));
        } else {
            out.push_str("| answer | judge |\n| --- | --- |\n");
            out.push_str(&format!(
                "| {} | {} |\n\n",
                cell_turns(&r.answer),
                cell(r.judgment.as_deref().unwrap_or(""))
            ));
            let score = r.score.map(|s| s.to_string()).unwrap_or("-".into());
            out.push_str(&format!("**score**: {score}"));
            if let Some(a) = &r.aspects {
                let parts: Vec<String> =
                    a.iter().map(|(k, v)| format!("{} {v}", cell(k))).collect();
                out.push_str(&format!(" ({})", parts.join(", ")));
            }
        }
        if let Some(e) = &r.error {
            out.push_str(&format!(" · **error**: {}", cell(e)));
        }
        out.push_str("\n\n");
    }
    out
}
