//! A board file (TOML) for one's own board: the runs, and categories that each average the
//! board cells they name (`*` matches any text, so `"japanese-mt-bench*"` takes the column
//! whatever its judge), with a weight each; the total is the weighted mean of the categories.
//!
//! ```toml
//! runs = ["runs/mt", "runs/elyza", "runs/jaster"]   # relative to this file
//! preset = "nejumi3"                                 # optional
//! [[category]]
//! name = "対話"
//! cells = ["japanese-mt-bench*", "elyza-tasks-100*"]
//! [[category]]
//! name = "jaster"
//! cells = ["llm-jp-eval AVG (2-shot)"]
//! weight = 2
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Board;
use crate::error::UsageError;

fn one() -> f64 {
    1.0
}

/// One category of a board file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCategory {
    /// Its name.
    pub name: String,
    /// The board columns it averages, by name (`*` matches any text).
    pub cells: Vec<String>,
    /// Its weight in the total.
    #[serde(default = "one")]
    pub weight: f64,
}

/// A board file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardFile {
    /// Run directories, relative to the file.
    pub runs: Vec<PathBuf>,
    /// A preset beside the cells (`nejumi3`, `nejumi4`).
    #[serde(default)]
    pub preset: Option<String>,
    /// The categories.
    #[serde(default, rename = "category")]
    pub categories: Vec<FileCategory>,
}

impl BoardFile {
    /// Reads a board file; its runs resolved against its directory.
    pub fn read(path: &Path) -> Result<BoardFile, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        let mut f: BoardFile =
            toml::from_str(&text).map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        if f.runs.is_empty() {
            return Err(UsageError(format!(
                "{}: `runs` names no run",
                path.display()
            )));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for r in &mut f.runs {
            if r.is_relative() {
                *r = base.join(&*r);
            }
        }
        for c in &f.categories {
            if c.cells.is_empty() || !(c.weight > 0.0 && c.weight.is_finite()) {
                return Err(UsageError(format!(
                    "{}: category {:?} needs cells and a positive weight",
                    path.display(),
                    c.name
                )));
            }
        }
        Ok(f)
    }
}

/// `pattern` with `*` as any text, against `text`.
fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    true
}

/// One model's own categories.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwnRow {
    /// The model.
    pub model: String,
    /// The weighted mean of the categories, when every one has a value.
    pub total: Option<f64>,
    /// The weighted mean of those that have one, and how many do.
    pub total_filled: Option<f64>,
    /// Categories with a value.
    pub filled: usize,
    /// Each category's mean of the model's cells it names (`None`: it has none of them).
    pub categories: Vec<(String, Option<f64>)>,
}

/// A board file's categories over the board.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Own {
    /// Each category and the columns it took.
    pub categories: Vec<(String, Vec<String>)>,
    /// Each model's figures, best total first.
    pub rows: Vec<OwnRow>,
}

/// The categories of `file` over `board`; a category that names no column of any run is an
/// error (nothing can fill it), naming the file, the category and its patterns.
pub fn categories(file: &Path, cats: &[FileCategory], board: &Board) -> Result<Own, UsageError> {
    let mut taken = Vec::new();
    for c in cats {
        let cols: Vec<usize> = board
            .columns
            .iter()
            .enumerate()
            .filter(|(_, col)| c.cells.iter().any(|p| matches(p, &col.name)))
            .map(|(i, _)| i)
            .collect();
        if cols.is_empty() {
            return Err(UsageError(format!(
                "{}: category {:?}: no run has a column {} (the board's columns: {})",
                file.display(),
                c.name,
                c.cells
                    .iter()
                    .map(|p| format!("{p:?}"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                board
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        taken.push(cols);
    }
    let mut rows: Vec<OwnRow> = board
        .rows
        .iter()
        .map(|r| {
            let values: Vec<Option<f64>> = taken
                .iter()
                .map(|cols| {
                    let vs: Vec<f64> = cols
                        .iter()
                        .filter_map(|&i| r.cells[i].as_ref().map(|c| c.value))
                        .collect();
                    (!vs.is_empty()).then(|| vs.iter().sum::<f64>() / vs.len() as f64)
                })
                .collect();
            let (mut sum, mut weight) = (0.0, 0.0);
            for (v, c) in values.iter().zip(cats) {
                if let Some(v) = v {
                    sum += v * c.weight;
                    weight += c.weight;
                }
            }
            let filled = values.iter().flatten().count();
            let total_filled = (weight > 0.0).then(|| sum / weight);
            OwnRow {
                model: r.model.clone(),
                total: (filled == cats.len()).then_some(total_filled).flatten(),
                total_filled,
                filled,
                categories: cats.iter().map(|c| c.name.clone()).zip(values).collect(),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let k = |r: &OwnRow| r.total.or(r.total_filled).unwrap_or(f64::MIN);
        k(b).total_cmp(&k(a)).then_with(|| a.model.cmp(&b.model))
    });
    Ok(Own {
        categories: cats
            .iter()
            .zip(&taken)
            .map(|(c, cols)| {
                (
                    c.name.clone(),
                    cols.iter()
                        .map(|&i| board.columns[i].name.clone())
                        .collect(),
                )
            })
            .collect(),
        rows,
    })
}

/// The own categories as a table.
pub fn own_table(o: &Own, cats: &[FileCategory]) -> crate::report::markup::Table {
    use crate::report::markup::num;
    let mut headers: Vec<String> = ["model", "total", "total (filled)"]
        .map(String::from)
        .to_vec();
    headers.extend(cats.iter().map(|c| {
        if c.weight == 1.0 {
            c.name.clone()
        } else {
            format!("{} ×{}", c.name, c.weight)
        }
    }));
    let rows = o
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.model.clone(),
                num(r.total, 4),
                format!("{} ({}/{})", num(r.total_filled, 4), r.filled, cats.len()),
            ];
            row.extend(r.categories.iter().map(|(_, v)| super::cell(*v)));
            row
        })
        .collect();
    let hs: Vec<&str> = headers.iter().map(String::as_str).collect();
    crate::report::markup::table(
        "board: categories".into(),
        hs,
        rows,
        "Each category is the mean of the model's cells it names; the total their weighted \
         mean, given only when every category has a value (beside it, the mean of those that \
         do). — is missing, not zero.",
    )
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns_match_with_stars() {
        assert!(matches(
            "japanese-mt-bench*",
            "japanese-mt-bench@80 e37eb28 · j (single)"
        ));
        assert!(matches("*AVG (2-shot)", "llm-jp-eval AVG (2-shot)"));
        assert!(matches("jnli_*(0-shot)", "jnli_exact_match (0-shot)"));
        assert!(!matches("jnli_*(0-shot)", "jnli_exact_match (2-shot)"));
        assert!(matches("x", "x") && !matches("x", "xy"));
    }
}
