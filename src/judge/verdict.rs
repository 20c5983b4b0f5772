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
    #[error("no JSON object with the aspects in the judge's reply")]
    NoJson,
    #[error("aspect {0:?} is missing from the judge's JSON")]
    MissingAspect(String),
    #[error("aspect {0:?} is not a number")]
    NotANumber(String),
}

/// What a judge prompt asks for, told by the verdict format it names. The built-in templates
/// each name theirs (a test checks it), so the simulator and test servers recognise judge
/// requests through these constants rather than by searching for prompt wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asks {
    /// A 1-10 rating tag.
    Rating,
    /// A pairwise choice tag.
    Choice,
    /// A JSON object of per-aspect grades.
    Aspects,
}

/// The tag pairwise prompts ask for (with `[[B]]` and `[[C]]`).
pub const CHOICE_TAG: &str = "[[A]]";
/// The tags rating prompts ask for: shinpan's Japanese prompts, FastChat's English ones.
pub const RATING_TAGS: &[&str] = &["[[評価]]", "[[rating]]"];
/// The heading under which rubric prompts list their aspects, one `- name` line each.
pub const ASPECTS_HEADING: &str = "[評価の観点]";
/// The heading under which a grade by the question's own criteria (ELYZA-tasks-100) shows
/// them; such grades are on a 1-5 scale.
pub const CRITERIA_HEADING: &str = "[採点基準]";
/// What Rakuda's pairwise prompt shows its first answer under (its verdict is the last digit).
pub const LAST_DIGIT_MARK: &str = "[アシスタント1の回答の開始]";

/// What a judge prompt (its first user message) asks for; `None` for a candidate's prompt.
/// Fenced answers are left out first: what an answer imitates says nothing of the request.
pub fn recognise(prompt: &str) -> Option<Asks> {
    let prompt = super::strip_fenced(prompt);
    if prompt.contains(ASPECTS_HEADING) {
        Some(Asks::Aspects)
    } else if prompt.contains(CHOICE_TAG) || prompt.contains(LAST_DIGIT_MARK) {
        Some(Asks::Choice)
    } else if RATING_TAGS.iter().any(|t| prompt.contains(t)) {
        Some(Asks::Rating)
    } else {
        None
    }
}

/// The JSON schema of a verdict, for servers that constrain output to one (`response_format`
/// with `json_schema`). With `explain`, the judge's explanation comes first, so it still
/// reasons before deciding; without (when asked again, where the prompt asks for the verdict
/// alone), only the verdict, which constrained decoding then cannot fail to give.
/// `aspects` names the rubric's aspects; `scale` is the one a rating is asked on.
pub fn schema(
    asks: Asks,
    aspects: &[String],
    explain: bool,
    scale: crate::types::Scale,
) -> serde_json::Value {
    use serde_json::json;
    let verdict = match asks {
        Asks::Rating => {
            json!({"rating": {"type": "integer", "enum": scale.points().collect::<Vec<u8>>()}})
        }
        Asks::Choice => json!({"verdict": {"type": "string", "enum": ["A", "B", "C"]}}),
        Asks::Aspects => serde_json::Value::Object(
            aspects
                .iter()
                .map(|a| {
                    (
                        a.clone(),
                        json!({"type": "integer", "enum": scale.points().collect::<Vec<u8>>()}),
                    )
                })
                .collect(),
        ),
    };
    let mut properties = serde_json::Map::new();
    let mut required = Vec::new();
    if explain {
        properties.insert("explanation".into(), json!({"type": "string"}));
        required.push("explanation".to_string());
    }
    for (k, v) in verdict.as_object().into_iter().flatten() {
        properties.insert(k.clone(), v.clone());
        required.push(k.clone());
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Reads a verdict given as JSON (a schema-constrained reply): `{"rating": 7}` or
/// `{"verdict": "A"}`, as the reply's whole text. `None` when the reply is not such JSON,
/// so the tag parser reads it instead.
fn json_field(text: &str, field: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    v.get(field).cloned()
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

/// Reads a 1-10 rating: the `rating` of a JSON reply, else the last `[[n]]` tag.
pub fn parse_rating(text: &str) -> Result<f64, VerdictError> {
    parse_rating_on(text, crate::types::Scale::TEN)
}

/// Reads a rating on `scale`: the `rating` of a JSON reply, else the last `[[n]]` tag.
pub fn parse_rating_on(text: &str, scale: crate::types::Scale) -> Result<f64, VerdictError> {
    if let Some(v) = json_field(text, "rating") {
        return match v.as_f64() {
            Some(x) if scale.contains(x) => Ok(x),
            _ => Err(VerdictError::OutOfRange(v.to_string())),
        };
    }
    let text = normalize(text);
    let last = RATING
        .captures_iter(&text)
        .last()
        .ok_or(VerdictError::NoTag("[[8]]"))?;
    let raw = &last[1];
    match raw.parse::<f64>() {
        Ok(v) if scale.contains(v) => Ok(v),
        _ => Err(VerdictError::OutOfRange(raw.to_string())),
    }
}

/// Reads a pairwise choice: the `verdict` of a JSON reply, else the last `[[A]]`, `[[B]]` or
/// `[[C]]` tag.
pub fn parse_choice(text: &str) -> Result<Choice, VerdictError> {
    if let Some(v) = json_field(text, "verdict") {
        return match v.as_str().map(normalize).as_deref().map(str::trim) {
            Some("A") => Ok(Choice::A),
            Some("B") => Ok(Choice::B),
            Some("C") => Ok(Choice::Tie),
            _ => Err(VerdictError::NoTag("[[A]]")),
        };
    }
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

/// Reads a 1-10 grade for every aspect from the last JSON object in the text that has them
/// (inside a ```json fence or bare); values may be numbers or numeric strings. Keys match
/// after trimming and removing spaces.
pub fn parse_aspects(
    text: &str,
    aspects: &[String],
    scale: crate::types::Scale,
) -> Result<std::collections::BTreeMap<String, f64>, VerdictError> {
    let text = normalize(text);
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let mut last_err = VerdictError::NoJson;
    let starts: Vec<usize> = text.match_indices('{').map(|(i, _)| i).collect();
    for &start in starts.iter().rev() {
        let mut stream =
            serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
        let Some(Ok(serde_json::Value::Object(obj))) = stream.next() else {
            continue;
        };
        let found: std::collections::HashMap<String, &serde_json::Value> =
            obj.iter().map(|(k, v)| (squash(k), v)).collect();
        let mut out = std::collections::BTreeMap::new();
        let mut ok = true;
        for a in aspects {
            let Some(v) = found.get(&squash(a)) else {
                last_err = VerdictError::MissingAspect(a.clone());
                ok = false;
                break;
            };
            let x = match v {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            match x {
                Some(x) if scale.contains(x) => {
                    out.insert(a.clone(), x);
                }
                Some(x) => {
                    last_err = VerdictError::OutOfRange(x.to_string());
                    ok = false;
                    break;
                }
                None => {
                    last_err = VerdictError::NotANumber(a.clone());
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            return Ok(out);
        }
    }
    Err(last_err)
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
    fn aspects_from_the_last_json_object() {
        let aspects: Vec<String> = ["有用性", "正確性"].iter().map(|s| s.to_string()).collect();
        let text =
            "形式: {\"有用性\": 整数}\n説明…\n```json\n{\"有用性\": 8, \"正確性\": \"７\"}\n```";
        let got = parse_aspects(text, &aspects, crate::types::Scale::TEN).unwrap();
        assert_eq!((got["有用性"], got["正確性"]), (8.0, 7.0));
        assert_eq!(
            parse_aspects("{\"有用性\": 8}", &aspects, crate::types::Scale::TEN),
            Err(VerdictError::MissingAspect("正確性".into()))
        );
        assert_eq!(
            parse_aspects(
                "{\"有用性\": 8, \"正確性\": 12}",
                &aspects,
                crate::types::Scale::TEN
            ),
            Err(VerdictError::OutOfRange("12".into()))
        );
        assert_eq!(
            parse_aspects("評価できません", &aspects, crate::types::Scale::TEN),
            Err(VerdictError::NoJson)
        );
        // On a 1-5 rubric, 6 is out of its range.
        let five = crate::types::Scale::FIVE;
        assert_eq!(
            parse_aspects("{\"有用性\": 6, \"正確性\": 2}", &aspects, five),
            Err(VerdictError::OutOfRange("6".into()))
        );
        assert!(parse_aspects("{\"有用性\": 5, \"正確性\": 1}", &aspects, five).is_ok());
        // A candidate answer's JSON earlier in the text does not count when a later one parses.
        let t = "{\"有用性\": 10, \"正確性\": 10} …審査… {\"有用性\": 3, \"正確性\": 4}";
        assert_eq!(
            parse_aspects(t, &aspects, crate::types::Scale::TEN).unwrap()["有用性"],
            3.0
        );
    }

    #[test]
    fn schema_constrained_json_replies_are_read_first() {
        assert_eq!(
            parse_rating(r#"{"explanation": "良い", "rating": 7}"#),
            Ok(7.0)
        );
        assert_eq!(
            parse_choice(r#" {"explanation": "[[A]] と書く回答もあるが", "verdict": "B"} "#),
            Ok(Choice::B)
        );
        assert_eq!(
            parse_rating(r#"{"explanation": "", "rating": 0}"#),
            Err(VerdictError::OutOfRange("0".into()))
        );
        // Not JSON: the tag parser reads it.
        assert_eq!(parse_rating("説明 [[4]]"), Ok(4.0));
        let s = schema(Asks::Choice, &[], true, crate::types::Scale::TEN);
        assert_eq!(s["required"], serde_json::json!(["explanation", "verdict"]));
        let s = schema(Asks::Rating, &[], false, crate::types::Scale::TEN);
        assert_eq!(s["required"], serde_json::json!(["rating"]));
        let s = schema(Asks::Rating, &[], false, crate::types::Scale::FIVE);
        assert_eq!(
            s["properties"]["rating"]["enum"],
            serde_json::json!([1, 2, 3, 4, 5])
        );
        let s = schema(
            Asks::Aspects,
            &["正確性".to_string()],
            true,
            crate::types::Scale::TEN,
        );
        assert_eq!(s["properties"]["正確性"]["enum"][9], 10);
    }

    #[test]
    fn requests_are_recognised_by_the_format_they_ask_for() {
        assert_eq!(recognise("… \"[[評価]]\" …"), Some(Asks::Rating));
        assert_eq!(recognise("… \"[[A]]\" …"), Some(Asks::Choice));
        assert_eq!(recognise("[評価の観点]\n- 正確性"), Some(Asks::Aspects));
        assert_eq!(recognise("日本の首都は？"), None);
        let imitated = format!("\"[[評価]]\" {}", super::super::fence("[[A]] [評価の観点]"));
        assert_eq!(
            recognise(&imitated),
            Some(Asks::Rating),
            "an answer's tags do not count"
        );
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
