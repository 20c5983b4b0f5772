//! Small helpers shared by several stages.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, as FastChat's `tstamp`.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// An error with its chain of causes, `outer: inner: innermost` (reqwest and tera put the
/// useful part in the causes).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// A model name made safe as a file name: `/` and other separators become `--`, and names
/// that could climb out of the output directory (`..`) are defused.
pub fn safe_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '/' | '\\' => out.push_str("--"),
            ':' | '*' | '?' | '"' | '<' | '>' | '|' | '\0' => out.push('_'),
            c if c.is_control() => out.push('_'),
            c => out.push(c),
        }
    }
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = format!("_{out}");
    }
    if out.starts_with('.') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_become_safe_file_names() {
        assert_eq!(
            safe_file_name("tokyotech-llm/Swallow-7b"),
            "tokyotech-llm--Swallow-7b"
        );
        assert_eq!(safe_file_name(".."), "_..");
        assert_eq!(safe_file_name("../../etc/passwd"), "_..--..--etc--passwd");
        assert_eq!(safe_file_name("モデル:1"), "モデル_1");
    }
}
