//! `--concurrency auto` through the real binary against the simulator's capacity model: a
//! server that states no limit is run at what its throughput shows it can take, and the
//! summary says so; a stated rate limit and `--max-concurrency` are never exceeded; 503s cut
//! the concurrency and a server that recovers is found again; noisy latency still converges.

use std::num::NonZeroU32;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use shinpan::simulate::SimConfig;
use shinpan::simulate::capacity::CapacityConfig;

use crate::support::{
    Sim, numbered_questions as questions, shinpan_bin, sim_run_args as args, stderr,
};

fn run(a: Vec<String>) -> std::process::Output {
    shinpan_bin().args(&a).output().unwrap()
}

/// The summary's concurrency line for the endpoint.
fn concurrency_line(err: &str) -> &str {
    err.lines()
        .find(|l| l.starts_with("shinpan: concurrency: "))
        .unwrap_or_else(|| panic!("no concurrency line in:\n{err}"))
}

/// The `~N` of "saturated at ~N in flight".
fn knee(line: &str) -> f64 {
    let at = line
        .find("saturated at ~")
        .unwrap_or_else(|| panic!("not saturated: {line}"));
    line[at + "saturated at ~".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_finds_what_a_server_with_noisy_latency_takes_and_says_so() {
    // 16 sequences at 100 ms ± 50 %, and 48 more may queue: 160 requests a second.
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(100),
        latency_jitter: 0.5,
        no_rate_headers: true,
        capacity: CapacityConfig {
            slots: Some(16),
            queue: Some(48),
            batch_latency: Duration::ZERO,
        },
        seed: 7,
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path(), 250);
    let a = args(&sim.url, &q, &dir.path().join("out"), &[]);
    let o = tokio::task::spawn_blocking(move || shinpan_bin().args(&a).output().unwrap())
        .await
        .unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let line = concurrency_line(&err);
    let k = knee(line);
    assert!((12.0..=24.0).contains(&k), "16 slots, knee {k}: {line}");
    let most = sim.stats.capacity.max_in_flight.load(Relaxed);
    // Past the default of 8 (the server has room for twice that), never past slots and queue.
    assert!((17..=64).contains(&most), "most in flight {most}: {line}");
    assert_eq!(sim.stats.capacity.overloaded.load(Relaxed), 0, "{line}");
    assert!(
        line.contains(&format!("{} at most", most)),
        "the line says the most in flight the server saw: {line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn max_concurrency_and_a_stated_rate_limit_are_never_exceeded() {
    let roomy = CapacityConfig {
        slots: Some(256),
        queue: Some(256),
        batch_latency: Duration::ZERO,
    };
    let sim = Sim::start(SimConfig {
        latency: Duration::from_millis(50),
        no_rate_headers: true,
        capacity: roomy.clone(),
        ..SimConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path(), 60);
    let o = run(args(
        &sim.url,
        &q,
        &dir.path().join("max"),
        &["--max-concurrency", "6"],
    ));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(sim.stats.capacity.max_in_flight.load(Relaxed), 6, "{err}");
    assert!(
        concurrency_line(&err).contains("held at --max-concurrency 6"),
        "{err}"
    );

    // A limit the server enforces over any second, given to the client: auto sizes the slots
    // to the pace, and not one request is refused. The request limit is stated in no header;
    // the token limit's window is learned from the headers' remaining tokens (unknown, a
    // window is not assumed: see the README).
    // The token pace charges each request its prompt and output cap.
    let q = questions(dir.path(), 30);
    for (flag, limit) in [("--rpm", "1200"), ("--tpm", "4800000")] {
        let mut config = SimConfig {
            latency: Duration::from_millis(50),
            no_rate_headers: flag == "--rpm",
            sliding_window: true,
            capacity: roomy.clone(),
            ..SimConfig::default()
        };
        let n = NonZeroU32::new(limit.parse().unwrap());
        if flag == "--rpm" {
            config.rpm = n;
        } else {
            config.tpm = n;
        }
        let sim = Sim::start(config);
        let o = run(args(
            &sim.url,
            &q,
            &dir.path().join(&flag[2..]),
            &[
                flag,
                limit,
                "--max-tokens",
                "512",
                "--judge-max-tokens",
                "512",
            ],
        ));
        let err = stderr(&o);
        assert!(o.status.success(), "{flag}: {err}");
        assert_eq!(sim.stats.rate_limited.load(Relaxed), 0, "{flag}: {err}");
        assert_eq!(sim.stats.ok.load(Relaxed), 120, "{flag}: {err}");
        let pace = if flag == "--rpm" {
            "auto: what the rate limit's pace"
        } else {
            "auto: under the token limit's pace"
        };
        assert!(concurrency_line(&err).contains(pace), "{flag}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn overload_cuts_the_concurrency_and_a_server_that_recovers_is_found_again() {
    // Four sequences and no queue: the fifth request in flight is refused with 503.
    let small = |slots: usize, queue: usize| SimConfig {
        latency: Duration::from_millis(50),
        no_rate_headers: true,
        capacity: CapacityConfig {
            slots: Some(slots),
            queue: Some(queue),
            batch_latency: Duration::ZERO,
        },
        ..SimConfig::default()
    };
    let mut sim = Sim::start(small(4, 0));
    let dir = tempfile::tempdir().unwrap();
    let q = questions(dir.path(), 60);
    let o = run(args(&sim.url, &q, &dir.path().join("small"), &[]));
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let refused = sim.stats.capacity.overloaded.load(Relaxed);
    let ok = sim.stats.ok.load(Relaxed);
    assert_eq!(ok, 240, "every request answered in the end: {err}");
    // The first burst (32 after the first reply) meets the four slots and is mostly
    // refused; after that only probes above them are, now and then.
    assert!(refused <= 64, "{refused} refused for {ok} answered:\n{err}");
    let line = concurrency_line(&err);
    assert!(
        line.contains("the server refused requests (HTTP 503) at"),
        "{line}"
    );

    // The same server, restarted mid-run with room for 32: the run finds it.
    sim.restart(small(4, 0));
    let q = questions(dir.path(), 500);
    let a = args(&sim.url, &q, &dir.path().join("recovers"), &[]);
    let run = tokio::task::spawn_blocking(move || shinpan_bin().args(&a).output().unwrap());
    while sim.stats.ok.load(Relaxed) < 300 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = sim.stats.capacity.max_in_flight.load(Relaxed);
    sim.restart(small(32, 32));
    let o = run.await.unwrap();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(before <= 8, "{before} in flight against 4 slots: {err}");
    let after = sim.stats.capacity.max_in_flight.load(Relaxed);
    assert!(after >= 24, "{after} in flight once 32 are served: {err}");
    assert_eq!(sim.stats.capacity.overloaded.load(Relaxed), 0, "{err}");
}
