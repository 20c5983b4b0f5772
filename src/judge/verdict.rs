//! Reading a verdict out of a judge's text. The verdict is the last well-formed tag: a judge
//! often quotes the format (`"[[A]]" if A is better…`) before deciding, so earlier tags are
//! drafts. Full-width digits, letters and brackets (common in Japanese output) are folded to
//! ASCII first.

use std::sync::LazyLock;

use regex::Regex;

/// What the judge decided in one pairwise game, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The answer shown first is better.
    A,
    /// The answer shown second is better.
    B,
    /// Neither is better.
    Tie,
}

/// Why no verdict could be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerdictError {
    #[error("no verdict tag such as {0} in the judge's reply")]
    NoTag(&'static str),
    #[error("rating {0} is outside 1-10")]
    OutOfRange(String),
}

static RATING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\[\s*([+-]?\d+(?:\.\d+)?)\s*\]\]").expect("valid regex"));
static CHOICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[\[\s*([ABC])\s*\]\]").expect("valid regex"));

/// Folds full-width ASCII variants (`［［８］］`, `［［Ａ］］`) to their ASCII forms.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '【' | '〚' => '[',
            '】' | '〛' => ']',
            _ => c,
        })
        .collect()
}

/// Reads a 1-10 rating from the last `[[n]]` tag.
pub fn parse_rating(text: &str) -> Result<f64, VerdictError> {
    let text = normalize(text);
    let last = RATING
        .captures_iter(&text)
        .last()
        .ok_or(VerdictError::NoTag("[[8]]"))?;
    let raw = &last[1];
    match raw.parse::<f64>() {
        Ok(v) if (1.0..=10.0).contains(&v) => Ok(v),
        _ => Err(VerdictError::OutOfRange(raw.to_string())),
    }
}

/// Reads a pairwise choice from the last `[[A]]`, `[[B]]` or `[[C]]` tag.
pub fn parse_choice(text: &str) -> Result<Choice, VerdictError> {
    let text = normalize(text);
    let last = CHOICE
        .captures_iter(&text)
        .last()
        .ok_or(VerdictError::NoTag("[[A]]"))?;
    Ok(match &last[1] {
        "A" => Choice::A,
        "B" => Choice::B,
        _ => Choice::Tie,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_tag_wins() {
        assert_eq!(parse_rating("形式は [[5]] です。…評価: [[8]]"), Ok(8.0));
        assert_eq!(
            parse_choice("\"[[A]]\"、\"[[B]]\"、\"[[C]]\" のうち… [[B]]"),
            Ok(Choice::B)
        );
        assert_eq!(parse_choice("最終判定: [[C]]"), Ok(Choice::Tie));
    }

    #[test]
    fn full_width_is_folded() {
        assert_eq!(parse_rating("評価：［［９］］"), Ok(9.0));
        assert_eq!(parse_rating("評価: [[１０]]"), Ok(10.0));
        assert_eq!(parse_choice("判定：［［Ａ］］"), Ok(Choice::A));
        assert_eq!(parse_rating("[[ 7.5 ]]"), Ok(7.5));
    }

    #[test]
    fn out_of_range_and_missing_are_failures() {
        assert_eq!(
            parse_rating("[[11]]"),
            Err(VerdictError::OutOfRange("11".into()))
        );
        assert_eq!(
            parse_rating("[[0]]"),
            Err(VerdictError::OutOfRange("0".into()))
        );
        assert_eq!(
            parse_rating("[[8]] とした後で [[-1]]"),
            Err(VerdictError::OutOfRange("-1".into()))
        );
        assert_eq!(
            parse_rating("評価は8点です"),
            Err(VerdictError::NoTag("[[8]]"))
        );
        assert_eq!(
            parse_choice("Aの方が良い [A]"),
            Err(VerdictError::NoTag("[[A]]"))
        );
        assert!(parse_choice("[[D]]").is_err());
    }
}
