//! The prompt llm-jp-eval v1.4.1 builds by default (its `get_evaluation_prompt`; the template
//! as llm-jp/scripts' `llm-jp-eval-v1.4.1/resources/config_base.yaml` at 0a70387 spells it):
//!
//! ```text
//! 以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n### 指示:\n{instruction}{few_shots_text}\n\n### 入力:\n{input}\n\n### 応答:\n
//! ```
//!
//! each few-shot `\n\n### 入力:\n{input}\n\n### 応答:\n{output}`. Values are put in as they
//! are, never read as templates themselves.

use super::file::Sample;

/// The alpaca-style Japanese template's opening line.
pub const PREAMBLE: &str = "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。";

/// The few-shots as one text, each `\n\n### 入力:\n{input}\n\n### 応答:\n{output}`.
pub fn few_shots_text(shots: &[Sample]) -> String {
    let mut s = String::new();
    for shot in shots {
        s.push_str("\n\n### 入力:\n");
        s.push_str(&shot.input);
        s.push_str("\n\n### 応答:\n");
        s.push_str(&shot.output);
    }
    s
}

/// The prompt of one sample: the default template, or the task's own (`{instruction}`,
/// `{few_shots_text}` and `{input}` replaced in one pass, so a value that contains a brace
/// is never read as a placeholder).
pub fn build(
    instruction: &str,
    shots: &[Sample],
    input: &str,
    custom_template: Option<&str>,
) -> String {
    let shots = few_shots_text(shots);
    match custom_template {
        None => format!(
            "{PREAMBLE}\n\n### 指示:\n{instruction}{shots}\n\n### 入力:\n{input}\n\n### 応答:\n"
        ),
        Some(t) => fill(
            t,
            &[
                ("{instruction}", instruction),
                ("{few_shots_text}", &shots),
                ("{input}", input),
            ],
        ),
    }
}

/// `template` with each placeholder replaced, scanning the template once.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    'scan: while !rest.is_empty() {
        for (key, value) in values {
            if let Some(after) = rest.strip_prefix(key) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(i: &str, o: &str) -> Sample {
        Sample {
            input: i.into(),
            output: o.into(),
        }
    }

    #[test]
    fn a_custom_template_is_filled_once() {
        let p = build(
            "指示{input}",
            &[s("a", "b")],
            "入力",
            Some("[{instruction}]{few_shots_text}<{input}>"),
        );
        assert_eq!(p, "[指示{input}]\n\n### 入力:\na\n\n### 応答:\nb<入力>");
    }
}
