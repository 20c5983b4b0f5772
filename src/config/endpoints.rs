//! Endpoints: an endpoint table's settings validated into an [`EndpointConfig`], and which
//! endpoints the endpoint flags change. A flag changes the `[endpoint]` layer; each
//! `[endpoints.NAME]` table inherits every field it leaves out from it, so the flag reaches a
//! named endpoint unless that table sets the field itself, which the run then says.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use super::settings::Concurrency;
use super::{EndpointSettings, ModelOptions};
use crate::client::{EndpointConfig, RetryPolicy};
use crate::defaults;
use crate::error::{UsageError, usage};

/// An endpoint's settings, validated (`source` names the table for messages).
pub(super) fn endpoint(s: &EndpointSettings, source: &str) -> Result<EndpointConfig, UsageError> {
    let base_url = s.base_url.as_deref().unwrap_or(defaults::BASE_URL);
    let base_url = base_url.trim().trim_end_matches('/').to_string();
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return usage(format!(
            "{source}: base URL {base_url:?} must start with http:// or https:// (--base-url)"
        ));
    }
    if base_url.ends_with("/chat/completions") {
        return usage(format!(
            "{source}: base URL {base_url:?} should end in /v1, not /chat/completions: shinpan adds /chat/completions itself (--base-url)"
        ));
    }
    let api_key_env = match &s.api_key_env {
        Some(v) if v.is_empty() => None,
        Some(v) if !is_variable_name(v) => {
            // Most often a key pasted where its variable's name goes: never printed back.
            let what = if crate::util::looks_like_a_key(v) {
                "it looks like an API key itself (not shown)"
            } else {
                "it is not a variable name (letters, digits and _)"
            };
            return usage(format!(
                "{source}: api_key_env (--api-key-env) names the environment variable that holds the key, and {what}; put the key in a variable (export OPENAI_API_KEY=…) and give its name"
            ));
        }
        Some(v) => Some(v.clone()),
        None => Some(defaults::API_KEY_ENV.to_string()),
    };
    let nonzero = |v: Option<u32>, what: &str| match v {
        Some(0) => usage(format!("{source}: {what} must be at least 1")),
        v => Ok(v.and_then(NonZeroU32::new)),
    };
    let concurrency = match s.concurrency {
        None | Some(Concurrency::Auto) => None,
        Some(Concurrency::Fixed(n)) => nonzero(Some(n), "concurrency (--concurrency)")?,
    };
    let max_concurrency = nonzero(s.max_concurrency, "max_concurrency (--max-concurrency)")?
        .map_or(defaults::MAX_CONCURRENCY as usize, |n| n.get() as usize);
    if let Some(n) = concurrency
        && s.max_concurrency.is_some()
        && n.get() as usize > max_concurrency
    {
        return usage(format!(
            "{source}: concurrency (--concurrency) {n} is above max_concurrency (--max-concurrency) {max_concurrency}; give one or the other"
        ));
    }
    let max_attempts = nonzero(s.max_attempts, "max_attempts (--max-attempts)")?
        .map_or(defaults::MAX_ATTEMPTS, NonZeroU32::get);
    let timeout = match s.timeout_secs {
        Some(0) => {
            return usage(format!(
                "{source}: timeout must be at least 1 second (--timeout)"
            ));
        }
        t => Duration::from_secs(t.unwrap_or(defaults::TIMEOUT_SECS)),
    };
    Ok(EndpointConfig {
        base_url,
        api_key_env,
        rpm: nonzero(s.rpm, "rpm (--rpm)")?,
        tpm: nonzero(s.tpm, "tpm (--tpm)")?,
        concurrency: concurrency.map(|n| n.get() as usize),
        max_concurrency,
        timeout,
        retry: RetryPolicy {
            max_attempts,
            ..RetryPolicy::default()
        },
        structured_verdicts: s.structured_verdicts.unwrap_or(false),
        // A run-wide setting: `resolve` puts the run's value in every endpoint.
        max_reply_bytes: defaults::MAX_REPLY_BYTES,
        batch: match (s.batch.unwrap_or(false), s.batch_poll_secs) {
            (_, Some(p)) if !(p.is_finite() && p > 0.0) => {
                return usage(format!(
                    "{source}: batch_poll must be a positive number of seconds (--batch-poll)"
                ));
            }
            (true, p) => Some(Duration::from_secs_f64(
                p.unwrap_or(defaults::BATCH_POLL_SECS),
            )),
            (false, _) => None,
        },
    })
}

/// Whether `v` can name an environment variable (`[A-Za-z_][A-Za-z0-9_]*`).
fn is_variable_name(v: &str) -> bool {
    let mut chars = v.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Says which endpoints the endpoint flags changed: a flag changes the default endpoint and
/// every named endpoint that leaves the field out, so a named endpoint that sets it keeps its
/// own value (a note says so). A flag that changes no endpoint any model uses is an error.
pub(super) fn endpoint_notes<'a>(
    models: impl Iterator<Item = &'a ModelOptions>,
    flags: &EndpointSettings,
    tables: &BTreeMap<String, EndpointSettings>,
) -> Result<Vec<String>, UsageError> {
    let mut used: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for m in models {
        if m.endpoint_names.is_empty() {
            used.entry(None).or_default().push(&m.name);
        }
        for e in &m.endpoint_names {
            used.entry(Some(e.as_str())).or_default().push(&m.name);
        }
    }
    let mut notes = Vec::new();
    for flag in flags.set_flags() {
        let mut changed = Vec::new();
        let mut kept = Vec::new();
        for (ep, who) in &used {
            let shadowed = ep
                .and_then(|e| tables.get(e))
                .is_some_and(|t| t.set_flags().contains(&flag));
            let label = match ep {
                None => "[endpoint]".to_string(),
                Some(e) => format!("[endpoints.{e}]"),
            };
            if shadowed {
                kept.push(format!("{label} ({})", who.join(", ")));
            } else {
                changed.push(label);
            }
        }
        if changed.is_empty() {
            return usage(format!(
                "{flag} changes no endpoint in use: {} set(s) its own value; change it in the config file",
                kept.join(", ")
            ));
        }
        if !kept.is_empty() {
            notes.push(format!(
                "{flag} applies to {}; {} keep(s) the value set in the config file",
                changed.join(", "),
                kept.join(", ")
            ));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::path::PathBuf;

    use super::super::{Layers, Settings, test_flags};

    #[test]
    fn concurrency_is_auto_or_a_number_and_a_fixed_one_above_the_cap_is_refused() {
        use super::super::EndpointSettings;
        let table = |t: &str| toml::from_str::<EndpointSettings>(t);
        let auto =
            super::endpoint(&table("concurrency = \"auto\"").unwrap(), "[endpoint]").unwrap();
        assert_eq!((auto.concurrency, auto.max_concurrency), (None, 1024));
        let fixed = super::endpoint(&table("concurrency = 6").unwrap(), "[endpoint]").unwrap();
        assert_eq!(fixed.concurrency, Some(6));
        let capped =
            super::endpoint(&table("max_concurrency = 40").unwrap(), "[endpoint]").unwrap();
        assert_eq!((capped.concurrency, capped.max_concurrency), (None, 40));
        let e = table("concurrency = \"fast\"").unwrap_err().to_string();
        assert!(e.contains("neither auto nor a number"), "{e}");
        let zero = super::endpoint(&table("concurrency = 0").unwrap(), "[endpoint]").unwrap_err();
        assert!(
            zero.0
                .contains("concurrency (--concurrency) must be at least 1"),
            "{}",
            zero.0
        );
        let over = super::endpoint(
            &table("concurrency = 9\nmax_concurrency = 4").unwrap(),
            "[endpoint]",
        )
        .unwrap_err();
        assert!(over.0.contains("is above max_concurrency"), "{}", over.0);
        assert_eq!(
            "auto".parse::<super::Concurrency>(),
            Ok(super::Concurrency::Auto)
        );
        assert!("0".parse::<super::Concurrency>().is_err());
    }

    #[test]
    fn config_tables_give_per_model_endpoints_and_flags_reach_endpoints_that_leave_a_field_out() {
        let cfg: Settings = toml::from_str(
            r#"
            models = ["local-7b", "gpt-4o-mini", "other"]
            judge = "gpt-4o"
            mode = "single"
            [endpoint]
            base_url = "https://api.openai.com/v1"
            rpm = 500
            [endpoints.local]
            base_url = "http://127.0.0.1:8080/v1"
            api_key_env = ""
            rpm = 120
            [endpoints.other]
            base_url = "http://127.0.0.1:8081/v1"
            [model.local-7b]
            endpoint = "local"
            api_model = "llm-jp/llm-jp-3-7b-instruct"
            [model.other]
            endpoint = "other"
            "#,
        )
        .unwrap();
        let mut f = test_flags("gpt-4o", "q.jsonl");
        f.endpoint.rpm = Some(60);
        let o = Layers {
            file: Some((PathBuf::from("x.toml"), cfg)),
            flags: f,
        }
        .resolve()
        .unwrap();
        assert_eq!(
            o.models[0].endpoints[0].base_url,
            "http://127.0.0.1:8080/v1"
        );
        assert_eq!(o.models[0].endpoints[0].api_key_env, None);
        assert_eq!(o.models[0].api_model, "llm-jp/llm-jp-3-7b-instruct");
        assert_eq!(
            o.models[0].endpoints[0].rpm,
            NonZeroU32::new(120),
            "its own value"
        );
        assert_eq!(o.models[1].endpoints[0].rpm, NonZeroU32::new(60));
        assert_eq!(
            o.models[2].endpoints[0].rpm,
            NonZeroU32::new(60),
            "inherited"
        );
        assert_eq!(
            o.judges[0].endpoints[0].base_url,
            "https://api.openai.com/v1"
        );
        assert_eq!(
            o.notes,
            [
                "--rpm applies to [endpoint], [endpoints.other]; [endpoints.local] (local-7b) keep(s) the value set in the config file"
            ]
        );
    }

    #[test]
    fn a_flag_that_changes_no_endpoint_in_use_is_refused() {
        let cfg: Settings = toml::from_str(
            r#"
            models = ["a"]
            judge = "a"
            [endpoints.local]
            base_url = "http://127.0.0.1:8080/v1"
            rpm = 120
            [model.a]
            endpoint = "local"
            "#,
        )
        .unwrap();
        let mut f = test_flags("a", "q.jsonl");
        f.endpoint.rpm = Some(60);
        let err = Layers {
            file: Some((PathBuf::from("x.toml"), cfg)),
            flags: f,
        }
        .resolve()
        .unwrap_err()
        .to_string();
        assert!(err.contains("--rpm changes no endpoint in use"), "{err}");
    }
}
