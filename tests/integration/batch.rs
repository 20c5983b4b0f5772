//! The Batch API end to end against the simulator's `/v1/files` and `/v1/batches`: failed
//! lines sent again, a run killed while its batch is pending and restarted, the batch price,
//! and the request files of `shinpan batch export` run elsewhere (as vLLM's `run_batch` would)
//! and read back with `shinpan batch import`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shinpan::simulate::SimConfig;

use crate::support::{SAMPLE, Sim, jsonl, run_bin, shinpan_bin, stdout_json, write};

/// Two models played against each other on the sample questions: 32 answers of two turns
/// (64 candidate requests) and 16 × 2 games judged in both orders (64 judge requests).
const REQUESTS: u64 = 128;

fn config(dir: &Path, url: &str) -> PathBuf {
    write(
        dir,
        "shinpan.toml",
        &format!(
            "models = [\"a\", \"b\"]\njudge = \"j\"\nmode = \"pairwise-all\"\nquestions = \"{SAMPLE}\"\n\
             [endpoint]\nbase_url = \"{url}\"\napi_key_env = \"\"\nbatch = true\nbatch_poll_secs = 0.05\n\
             [endpoints.judging]\nrpm = 6000\n\
             [model.j]\nendpoint = \"judging\"\nprice = {{ input = 2.0, output = 8.0, batch = 0.5 }}\n"
        ),
    )
}

/// The batch events of a run: one record for the URL, whichever endpoint tables (and so
/// clients) send there.
fn batches(out: &Path) -> Vec<Value> {
    let dir = out.join("batches");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let dirs: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    jsonl(&dirs[0].join("batches.jsonl"))
}

#[test]
fn a_batched_run_sends_failed_lines_again_and_pays_the_batch_price() {
    let sim = Sim::start(SimConfig {
        fail_rate: 0.15,
        batch_delay: Duration::from_millis(50),
        seed: 5,
        ..SimConfig::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), &sim.url);
    let out = tmp.path().join("out");
    let o = run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = stdout_json(&o);
    assert_eq!(report["partial"], false, "{report}");
    let s = &sim.stats;
    // Everything went through batches: the chat endpoint saw nothing but batch lines.
    let lines = s.batch_lines.load(Ordering::Relaxed);
    assert_eq!(s.requests.load(Ordering::Relaxed), lines);
    assert_eq!(s.ok.load(Ordering::Relaxed), REQUESTS);
    // Some lines failed and were sent again in later batches.
    let failed = s.failed.load(Ordering::Relaxed);
    assert!(failed > 0, "the simulator failed some lines");
    assert_eq!(lines, REQUESTS + failed);
    let events = batches(&out);
    let created = events.iter().filter(|e| e["event"] == "created").count();
    let done = events.iter().filter(|e| e["event"] == "done").count();
    assert_eq!(created as u64, s.batches.load(Ordering::Relaxed));
    assert_eq!(created, done);
    assert!(
        created >= 4,
        "turn 1, turn 2, judgments, and retries: {created}"
    );
    // The judge's tokens were all batched, at half its price.
    let j = report["spend"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "j")
        .unwrap()
        .clone();
    let (p, c) = (
        j["prompt_tokens"].as_f64().unwrap(),
        j["completion_tokens"].as_f64().unwrap(),
    );
    assert_eq!(j["batch_prompt_tokens"], j["prompt_tokens"]);
    let expected = 0.5 * (p * 2.0 + c * 8.0) / 1e6;
    assert!(
        (j["cost"].as_f64().unwrap() - expected).abs() < 1e-12,
        "{j}"
    );
    // The same command again asks for nothing.
    let before = s.requests.load(Ordering::Relaxed);
    let o = run_bin(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(s.requests.load(Ordering::Relaxed), before);
}

#[test]
fn a_panel_is_judged_through_batches_each_judge_at_its_batch_price() {
    let sim = Sim::start(SimConfig {
        batch_delay: Duration::from_millis(50),
        seed: 6,
        ..SimConfig::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write(
        tmp.path(),
        "shinpan.toml",
        &format!(
            "models = [\"a\", \"b\"]\njudges = [\"j\", \"k\"]\nmode = \"pairwise-all\"\nquestions = \"{SAMPLE}\"\n\
             [endpoint]\nbase_url = \"{url}\"\napi_key_env = \"\"\nbatch = true\nbatch_poll_secs = 0.05\n\
             [model.j]\nprice = {{ input = 2.0, output = 8.0, batch = 0.5 }}\n\
             [model.k]\nprice = {{ input = 1.0, output = 4.0, batch = 0.5 }}\n",
            url = sim.url
        ),
    );
    let out = tmp.path().join("out");
    let o = run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let reports = stdout_json(&o);
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 3, "j, k and the panel");
    let panel = reports
        .iter()
        .find(|r| r["judge"] == "panel(j, k)")
        .unwrap();
    assert_eq!(panel["partial"], false, "{panel}");
    // Every request went through batches: the answers once, each judge's 64 games.
    let s = &sim.stats;
    assert_eq!(s.ok.load(Ordering::Relaxed), REQUESTS + 64);
    assert_eq!(
        s.requests.load(Ordering::Relaxed),
        s.batch_lines.load(Ordering::Relaxed)
    );
    for (judge, input, output) in [("j", 2.0, 8.0), ("k", 1.0, 4.0)] {
        let r = panel["spend"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == judge)
            .unwrap();
        assert_eq!(r["requests"], 64, "{r}");
        assert_eq!(r["batch_prompt_tokens"], r["prompt_tokens"], "{r}");
        let (p, c) = (
            r["prompt_tokens"].as_f64().unwrap(),
            r["completion_tokens"].as_f64().unwrap(),
        );
        let expected = 0.5 * (p * input + c * output) / 1e6;
        assert!(
            (r["cost"].as_f64().unwrap() - expected).abs() < 1e-12,
            "{r}"
        );
    }
    let before = s.requests.load(Ordering::Relaxed);
    let o = run_bin(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        s.requests.load(Ordering::Relaxed),
        before,
        "nothing asked again"
    );
}

#[test]
fn a_run_killed_while_its_batch_is_pending_waits_on_it_when_restarted() {
    let sim = Sim::start(SimConfig {
        batch_delay: Duration::from_millis(1500),
        ..SimConfig::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), &sim.url);
    let out = tmp.path().join("out");
    let cache = tmp.path().join("cache.sqlite");
    let args = [
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--format",
        "json",
    ];
    let mut child = shinpan_bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once its first batch is created and before it ends.
    let started = Instant::now();
    while !batches(&out).iter().any(|e| e["event"] == "created") {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no batch created"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(sim.stats.batches.load(Ordering::Relaxed), 1);
    assert_eq!(
        sim.stats.batch_lines.load(Ordering::Relaxed),
        0,
        "still pending"
    );
    // Restarted: it polls the pending batch instead of sending its lines again.
    let report = stdout_json(&run_bin(&args));
    assert_eq!(report["partial"], false, "{report}");
    assert_eq!(
        sim.stats.batch_lines.load(Ordering::Relaxed),
        REQUESTS,
        "no request was sent twice"
    );
    let events = batches(&out);
    let first = events[0]["batch"].clone();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "done" && e["batch"] == first),
        "the batch created before the kill ended in the restarted run"
    );
    assert_eq!(jsonl(&out.join("answers/a.jsonl")).len(), 16);
}

/// Runs a request file as an offline batch runner would (vLLM's `run_batch` writes the same
/// output format as OpenAI's Batch API, which the simulator serves), returning the results.
fn run_elsewhere(sim: &Sim, requests: &Path) -> Vec<u8> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let form = reqwest::multipart::Form::new()
            .text("purpose", "batch")
            .part(
                "file",
                reqwest::multipart::Part::bytes(std::fs::read(requests).unwrap())
                    .file_name("r.jsonl"),
            );
        let file: Value = http
            .post(format!("{}/files", sim.url))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let batch: Value = http
            .post(format!("{}/batches", sim.url))
            .json(
                &json!({"input_file_id": file["id"], "endpoint": "/v1/chat/completions",
                          "completion_window": "24h"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        loop {
            let b: Value = http
                .get(format!(
                    "{}/batches/{}",
                    sim.url,
                    batch["id"].as_str().unwrap()
                ))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if b["status"] == "completed" {
                let out = b["output_file_id"].as_str().unwrap();
                let url = format!("{}/files/{out}/content", sim.url);
                return http
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
                    .to_vec();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

#[test]
fn exported_requests_run_elsewhere_come_back_through_the_cache() {
    let sim = Sim::start(SimConfig::default());
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // No `batch = true`: the candidates run offline, the judge through the API.
    let cfg = write(
        d,
        "shinpan.toml",
        &format!(
            "models = [\"a\", \"b\"]\njudge = \"j\"\nmode = \"pairwise-all\"\nquestions = \"{SAMPLE}\"\n\
             [endpoint]\nbase_url = \"{}\"\napi_key_env = \"\"\n",
            sim.url
        ),
    );
    let cache = d.join("cache.sqlite");
    let (c, out) = (cache.to_str().unwrap(), d.join("out"));
    let requests = d.join("requests.jsonl");
    let export = || {
        let o = run_bin(&[
            "batch",
            "export",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--cache",
            c,
            "--file",
            requests.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        jsonl(&requests)
    };
    let mut rounds = 0;
    loop {
        let lines = export();
        if lines.is_empty() {
            break;
        }
        rounds += 1;
        // Turn 1 of every answer first, then turn 2, which shows turn 1's reply.
        assert_eq!(lines.len(), 32, "round {rounds}");
        assert!(
            lines.iter().all(|l| l["url"] == "/v1/chat/completions"
                && l["custom_id"].as_str().unwrap().len() == 64)
        );
        let user_turns = |l: &Value| {
            l["body"]["messages"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "user")
                .count()
        };
        assert!(lines.iter().all(|l| user_turns(l) == rounds));
        let results = write(
            d,
            "results.jsonl",
            &String::from_utf8(run_elsewhere(&sim, &requests)).unwrap(),
        );
        let o = run_bin(&["batch", "import", results.to_str().unwrap(), "--cache", c]);
        assert!(o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains("stored 32 response(s)"));
        assert!(rounds <= 2);
    }
    assert_eq!(rounds, 2);
    // The run asks only the judge: every answer comes from the cache.
    let asked = sim.stats.ok.load(Ordering::Relaxed);
    let judged = sim.stats.judge_requests.load(Ordering::Relaxed);
    let report = stdout_json(&run_bin(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--cache",
        c,
        "--format",
        "json",
    ]));
    assert_eq!(report["partial"], false);
    let new = sim.stats.ok.load(Ordering::Relaxed) - asked;
    assert_eq!(new, 64);
    assert_eq!(
        sim.stats.judge_requests.load(Ordering::Relaxed) - judged,
        64
    );
    // A results file that is not one is refused, naming the line, and nothing is stored.
    let bad = write(d, "bad.jsonl", "{\"custom_id\": \"x\"}\nnot json\n");
    let o = run_bin(&["batch", "import", bad.to_str().unwrap(), "--cache", c]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.jsonl: line 2"));
}
