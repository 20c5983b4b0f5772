//! Benchmark: the real binary runs the whole pipeline (single mode: one answer and one judgment
//! per question) against the simulator, which enforces a requests-per-minute limit over a
//! one-second window and answers after a fixed latency. For 1,000 and 10,000 requests, once
//! with the limit given (`--rpm`) and once with the limit only in the simulator's
//! `x-ratelimit-*` headers, it prints throughput, 429s, the ratio of wall time to the bound the
//! limit implies (requests ÷ rate, plus one latency for the last reply), CPU time and peak
//! memory of the shinpan process. Targets: within 3% of the bound with the limit given, 10%
//! when learned, a handful of 429s (at most 5), under 50 MB. The run must answer every
//! request (its precondition); a missed target or a failed run exits 1.
//!
//! Run with `cargo bench --bench scale` (about three minutes); `-- 1000` runs the small
//! scenarios only.

use std::num::NonZeroU32;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shinpan::simulate::{SimConfig, start};

const LATENCY: Duration = Duration::from_millis(200);

struct Measured {
    wall: f64,
    cpu: f64,
    peak_mb: f64,
    ok: bool,
}

/// Runs the binary and measures it (CPU and peak resident memory from `wait4`).
fn measure(cmd: &mut Command) -> Measured {
    let started = Instant::now();
    // Reaped by `wait4` below, which also gives its resource use.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("shinpan runs");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `child.id()` is our own unwaited child; the pointers outlive the call.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let wall = started.elapsed().as_secs_f64();
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Measured {
        wall,
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

/// Runs one scenario; `Err` says which target it missed.
async fn scenario(requests: usize, rpm: u32, given: bool) -> Result<(), String> {
    let sim = start(
        0,
        SimConfig {
            rpm: NonZeroU32::new(rpm),
            window: Duration::from_secs(1),
            latency: LATENCY,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.jsonl");
    let questions: String = (1..=requests / 2)
        .map(|i| format!("{{\"question_id\": {i}, \"category\": \"stem\", \"turns\": [\"質問{i}: 空はなぜ青いのですか。\"]}}\n"))
        .collect();
    std::fs::write(&q, questions).unwrap();
    let out = dir.path().join("out");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shinpan"));
    cmd.args([
        "run", "--models", "m", "--judge", "judge", "--mode", "single",
    ])
    .arg("--questions")
    .arg(&q)
    .arg("--out")
    .arg(&out)
    .args([
        "--base-url",
        &sim.base_url(),
        "--api-key-env",
        "",
        "--no-cache",
        "--quiet",
    ])
    .env_remove("OPENAI_BASE_URL")
    .stdout(std::process::Stdio::null());
    if given {
        cmd.args(["--rpm", &rpm.to_string()]);
    }
    let m = tokio::task::spawn_blocking(move || measure(&mut cmd))
        .await
        .unwrap();
    let stats = &sim.stats;
    let refused = stats.rate_limited.load(Ordering::Relaxed);
    let ok = stats.ok.load(Ordering::Relaxed) as usize;
    let bound = requests as f64 / (rpm as f64 / 60.0) + LATENCY.as_secs_f64();
    let ratio = m.wall / bound;
    let target = if given { 1.03 } else { 1.10 };
    println!(
        "{:>6} requests  limit {:<7}  {:>6.1} req/s  wall {:>6.2} s  bound {:>6.2} s  ratio {:.3} ({})  429s {:>3}  cpu {:>5.2} s  peak {:>5.1} MB{}",
        requests,
        if given { "given" } else { "learned" },
        ok as f64 / m.wall,
        m.wall,
        bound,
        ratio,
        if ratio <= target {
            "within target"
        } else {
            "MISSED target"
        },
        refused,
        m.cpu,
        m.peak_mb,
        if m.ok && ok == requests {
            ""
        } else {
            "  (run failed or incomplete)"
        },
    );
    sim.stop().await;
    let what = format!(
        "{requests} requests, limit {}",
        if given { "given" } else { "learned" }
    );
    if !(m.ok && ok == requests) {
        return Err(format!(
            "{what}: the run failed or answered {ok} of {requests}"
        ));
    }
    if ratio > target {
        return Err(format!("{what}: {ratio:.3} × the bound (target {target})"));
    }
    if refused > 5 {
        return Err(format!("{what}: {refused} × 429 (target at most 5)"));
    }
    if m.peak_mb >= 50.0 {
        return Err(format!(
            "{what}: peak {:.1} MB (target under 50 MB)",
            m.peak_mb
        ));
    }
    Ok(())
}

fn main() {
    let small_only = std::env::args().any(|a| a == "1000");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let missed = rt.block_on(async {
        let mut cases = vec![(1_000, 6_000)];
        if !small_only {
            cases.push((10_000, 12_000));
        }
        let mut missed = Vec::new();
        for (requests, rpm) in cases {
            for given in [true, false] {
                if let Err(e) = scenario(requests, rpm, given).await {
                    missed.push(e);
                }
            }
        }
        missed
    });
    if !missed.is_empty() {
        eprintln!("MISSED: {}", missed.join("; "));
        std::process::exit(1);
    }
}
