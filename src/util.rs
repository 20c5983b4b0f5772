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

/// The edit distance between two strings, in characters (for "did you mean").
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(ca != *cb));
            prev = cur;
        }
    }
    row[b.len()]
}

/// What API keys look like (OpenAI's `sk-…` and `sk-proj-…`, Anthropic's `sk-ant-…`, and the
/// other common providers' prefixes), and a bearer token in a header.
static KEY_SHAPED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(
        r"(?x)
        (?:\bsk-[A-Za-z0-9_\-]{8,}
          |\b(?:sk|pk|rk|gsk|ghp|gho|ghs|ghu|hf|xai|glpat)_[A-Za-z0-9_\-]{8,}
          |\bgithub_pat_[A-Za-z0-9_]{8,}
          |\bAIza[0-9A-Za-z_\-]{20,}
          |\bAKIA[0-9A-Z]{12,}
          |\bxox[abprs]-[A-Za-z0-9\-]{8,}
          |(?i:bearer)\s+[A-Za-z0-9._~+/\-]{8,}=*)",
    )
    .expect("valid regex")
});

/// `text` with anything shaped like an API key replaced by `<redacted>`: what shinpan prints
/// of the user's input (an error quoting a config line, a flag's value) never shows a key
/// pasted where it does not belong.
pub fn redact_secrets(text: &str) -> std::borrow::Cow<'_, str> {
    KEY_SHAPED.replace_all(text, "<redacted>")
}

/// Whether `text` holds something shaped like an API key.
pub fn looks_like_a_key(text: &str) -> bool {
    KEY_SHAPED.is_match(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("gpt-4o-mini", "gpt-4o-mnii"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("審判", "審判"), 0);
    }

    #[test]
    fn key_shaped_text_is_redacted() {
        let k = "sk-proj-Abc123_def456-GHI789";
        let msg = format!("environment variable {k} is not set");
        assert_eq!(
            redact_secrets(&msg),
            "environment variable <redacted> is not set"
        );
        assert_eq!(
            redact_secrets("api_key = \"sk-ant-api03-xyzXYZ0123456789\""),
            "api_key = \"<redacted>\""
        );
        assert_eq!(
            redact_secrets("Authorization: Bearer abcdefgh12345678"),
            "Authorization: <redacted>"
        );
        for plain in [
            "OPENAI_API_KEY",
            "gpt-4o-mini",
            "sk-1",
            "task-1234 done",
            "risk-free",
        ] {
            assert_eq!(redact_secrets(plain), plain);
        }
    }

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

/// A Unix time as RFC 3339 in UTC, to the second (`2026-12-01T03:00:12Z`).
pub fn rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Today's date in UTC (`2026-12-01`).
pub fn utc_date() -> String {
    rfc3339(unix_now())[..10].to_string()
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod date_tests {
    #[test]
    fn dates_in_utc() {
        assert_eq!(super::rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400.0), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_094_012.5), "2026-12-01T03:00:12Z");
    }
}
