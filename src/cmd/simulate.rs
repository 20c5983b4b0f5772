//! `shinpan simulate`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::cli::SimulateArgs;
use crate::config::UsageError;
use crate::simulate::{Fault, JudgeStyle, SimConfig, start};

fn rate(v: f64, flag: &str) -> Result<f64, UsageError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(UsageError(format!("{flag} {v} is outside 0-1")))
    }
}

/// Parses `name=0.8` pairs.
pub fn parse_quality(items: &[String]) -> Result<HashMap<String, f64>, UsageError> {
    items
        .iter()
        .map(|s| {
            let (name, q) = s
                .rsplit_once('=')
                .ok_or_else(|| UsageError(format!("--quality {s:?}: expected MODEL=Q")))?;
            let q: f64 = q
                .parse()
                .map_err(|_| UsageError(format!("--quality {s:?}: {q:?} is not a number")))?;
            Ok((name.to_string(), rate(q, "--quality")?))
        })
        .collect()
}

/// Parses `harsh=-2` and `biased=0:0.6` (offset, and optionally position bias).
pub fn parse_judge_styles(
    items: &[String],
    position_bias: f64,
) -> Result<HashMap<String, JudgeStyle>, UsageError> {
    items
        .iter()
        .map(|s| {
            let bad = |why: &str| UsageError(format!("--judge-style {s:?}: {why}"));
            let (name, style) = s
                .split_once('=')
                .ok_or_else(|| bad("expected JUDGE=OFFSET[:BIAS]"))?;
            let (offset, bias) = match style.split_once(':') {
                Some((o, b)) => (o, Some(b)),
                None => (style, None),
            };
            let offset: f64 = offset
                .trim()
                .parse()
                .ok()
                .filter(|o: &f64| o.abs() <= 9.0)
                .ok_or_else(|| bad("the offset is not a number of points from -9 to 9"))?;
            let position_bias = match bias {
                Some(b) => rate(
                    b.trim()
                        .parse()
                        .map_err(|_| bad("the bias is not a number"))?,
                    "--judge-style",
                )?,
                None => position_bias,
            };
            Ok((
                name.trim().to_string(),
                JudgeStyle {
                    offset,
                    position_bias,
                },
            ))
        })
        .collect()
}

/// Parses `reset=0.05` pairs; the shares must add up to at most 1.
pub fn parse_faults(items: &[String]) -> Result<Vec<(Fault, f64)>, UsageError> {
    let mut out = Vec::new();
    for s in items {
        let (name, r) = s
            .split_once('=')
            .ok_or_else(|| UsageError(format!("--fault {s:?}: expected FAULT=RATE")))?;
        let fault = Fault::parse(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
            UsageError(format!(
                "--fault {s:?}: unknown fault {name:?} (one of {})",
                names.join(", ")
            ))
        })?;
        let r: f64 = r
            .trim()
            .parse()
            .map_err(|_| UsageError(format!("--fault {s:?}: {r:?} is not a number")))?;
        out.push((fault, rate(r, "--fault")?));
    }
    if out.iter().map(|(_, r)| r).sum::<f64>() > 1.0 {
        return Err(UsageError(
            "--fault: the rates add up to more than 1".into(),
        ));
    }
    Ok(out)
}

pub async fn simulate(a: SimulateArgs) -> anyhow::Result<()> {
    let config = SimConfig {
        latency: Duration::from_millis(a.latency_ms),
        latency_jitter: a.latency_jitter,
        rpm: a.rpm.and_then(NonZeroU32::new),
        tpm: a.tpm.and_then(NonZeroU32::new),
        window: Duration::from_millis(a.window_ms),
        sliding_window: a.sliding_window,
        no_rate_headers: a.no_rate_headers,
        capacity: crate::simulate::capacity::CapacityConfig {
            slots: a.slots.map(|n| n as usize),
            queue: a.queue.map(|n| n as usize),
            batch_latency: Duration::from_millis(a.batch_latency_ms),
        },
        fail_rate: rate(a.fail_rate, "--fail-rate")?,
        garble_rate: rate(a.garble_rate, "--garble-rate")?,
        position_bias: rate(a.position_bias, "--position-bias")?,
        judges: parse_judge_styles(&a.judge_style, a.position_bias)?,
        quality: parse_quality(&a.quality)?,
        seed: a.seed,
        faults: parse_faults(&a.fault)?,
        hang: Some(Duration::from_secs(a.hang_secs)),
        batch_delay: Duration::from_millis(a.batch_delay_ms),
        serves: a
            .serves
            .iter()
            .map(|s| {
                s.split_once('=')
                    .map(|(m, r)| (m.trim().to_string(), r.trim().to_string()))
                    .ok_or_else(|| UsageError(format!("--serves {s:?}: expected MODEL=ROOT")))
            })
            .collect::<Result<_, _>>()?,
    };
    let running = start(a.port, config)
        .await
        .map_err(|e| UsageError(format!("--port {}: cannot listen: {e}", a.port)))?;
    println!("shinpan simulate: listening on {}", running.base_url());
    use std::io::Write;
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    eprintln!("shinpan simulate: {}", running.stats.to_json());
    running.stop().await;
    Ok(())
}
