//! The HTML report: its content pinned by a snapshot, its escaping of hostile model and judge
//! text, and the page in a real headless Chromium (Debian's `chromium`; CI installs it): it
//! loads with no console message (a blocked script or load would log one), runs its own
//! script, runs nothing from an answer, filters from the address, and is screenshotted.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use super::support::*;

/// Text a model could write to attack the page.
const HOSTILE: &str = "<script>document.body.dataset.pwned='script'</script>\n\n\
<img src=x onerror=\"document.body.dataset.pwned='img'\">\n\n\
[クリック](javascript:document.body.dataset.pwned='link')\n\n\
```python\nprint('こんにちは')\n```\n\n**太字**の説明です。";

/// A small run directory: two questions (one two-turn), three models graded and played in
/// pairs, one model's answers and one explanation hostile, one game inconsistent.
fn small_run(d: &Path) {
    let lines =
        |v: Vec<serde_json::Value>| -> String { v.iter().map(|x| x.to_string() + "\n").collect() };
    std::fs::create_dir_all(d.join("answers")).unwrap();
    std::fs::create_dir_all(d.join("judgments")).unwrap();
    std::fs::write(
        d.join("questions.jsonl"),
        lines(vec![
            json!({"question_id": 1, "category": "writing", "turns": ["春の俳句を詠んでください。", "それを英語に訳してください。"]}),
            json!({"question_id": 2, "category": "math", "turns": ["1から10までの和は？"], "reference": ["55"]}),
        ]),
    )
    .unwrap();
    let answers = [
        (
            "alpha",
            ["古池や 蛙飛び込む 水の音", "An old pond"],
            "55です。",
        ),
        ("beta", ["春の風", "Spring wind"], "50です。"),
        ("evil", [HOSTILE, HOSTILE], HOSTILE),
    ];
    for (m, q1, q2) in answers {
        std::fs::write(
            d.join(format!("answers/{m}.jsonl")),
            lines(vec![
                json!({"question_id": 1, "model_id": m, "choices": [{"index": 0, "turns": q1}]}),
                json!({"question_id": 2, "model_id": m, "choices": [{"index": 0, "turns": [q2]}]}),
            ]),
        )
        .unwrap();
    }
    let mut single = Vec::new();
    for (m, s) in [("alpha", 8), ("beta", 5), ("evil", 2)] {
        for (q, turn) in [(1, 1), (1, 2), (2, 1)] {
            single.push(json!({"question_id": q, "model": m, "judge": ["j", "single"], "score": s, "turn": turn,
                "judgment": format!("評価: {m} の回答。 [[{s}]]")}));
        }
    }
    std::fs::write(d.join("judgments/j_single.jsonl"), lines(single)).unwrap();
    let mut pair = Vec::new();
    for (q, turn) in [(1, 1), (1, 2), (2, 1)] {
        pair.push(json!({"question_id": q, "model_1": "alpha", "model_2": "beta", "judge": ["j", "pair"], "turn": turn,
            "g1_winner": "model_1", "g2_winner": if q == 2 { "model_2" } else { "model_1" },
            "g1_judgment": "Aが良い。 [[A]]", "g2_judgment": "判定。"}));
        pair.push(json!({"question_id": q, "model_1": "evil", "model_2": "beta", "judge": ["j", "pair"], "turn": turn,
            "g1_winner": "model_2", "g2_winner": "model_2",
            "g1_judgment": format!("</div></details>{HOSTILE} [[B]]"), "g2_judgment": "[[A]]"}));
    }
    std::fs::write(d.join("judgments/j_pair.jsonl"), lines(pair)).unwrap();
}

fn page(dir: &Path) -> String {
    let o = run_bin(&[
        "report",
        dir.to_str().unwrap(),
        "--format",
        "html",
        "--baseline",
        "beta",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_page_is_self_contained_escapes_model_text_and_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    small_run(dir.path());
    let html = page(dir.path());
    // One script, the page's own; the hostile text is there, as text.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(html.contains("&lt;script&gt;document.body.dataset.pwned"));
    assert!(html.contains("&lt;img src=x onerror="));
    assert_eq!(
        html.matches("<a ").count(),
        html.matches("<a href=\"#").count()
    );
    for bad in [
        "<img",
        "href=\"javascript",
        "<link",
        "<iframe",
        "src=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "{bad}");
    }
    // Japanese as is; Markdown rendered; charts inline; the inconsistent game highlighted.
    assert!(html.contains("春の俳句を詠んでください。") && html.contains("<strong>太字</strong>"));
    assert!(html.contains("<pre><code class=\"language-python\">"));
    assert!(html.contains("<svg") && html.contains("Score distribution"));
    assert_eq!(html.matches(r#"<div class="item inconsistent""#).count(), 1);
    insta::assert_snapshot!("html_report", html);
}

/// The headless Chromium to check pages in: `$SHINPAN_CHROMIUM`, or `chromium` on PATH. CI
/// must have one (`.ci/run` installs it); elsewhere the check says it skipped.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SHINPAN_CHROMIUM").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    for name in ["chromium", "chromium-browser"] {
        if let Some(p) = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            return Some(p);
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide chromium (.ci/run installs it)"
    );
    say(
        "html: chromium not found; skipping the browser check (apt-get install chromium fonts-ipafont-gothic)",
    );
    None
}

/// Loads `url` in headless Chromium with `extra` flags: (stdout, console lines).
fn browse(chrome: &Path, profile: &Path, url: &str, extra: &[&str]) -> (String, Vec<String>) {
    let o = Command::new("timeout")
        .arg("120")
        .arg(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium failed: {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&o.stdout).into_owned(), console)
}

#[test]
fn the_page_in_a_real_browser_runs_only_its_own_script() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    small_run(dir.path());
    let file = dir.path().join("report.html");
    std::fs::write(&file, page(dir.path())).unwrap();
    let url = format!("file://{}", file.display());
    let profile = dir.path().join("profile");

    let (dom, console) = browse(&chrome, &profile, &url, &["--dump-dom"]);
    // Any blocked script, handler or load would have logged a policy violation.
    assert!(console.is_empty(), "console: {console:#?}");
    assert!(
        dom.contains(r#"data-script="ready""#),
        "the page's own script did not run"
    );
    assert!(!dom.contains("data-pwned"), "a script from an answer ran");
    // The script revealed the filters; without a filter every item shows.
    assert!(!dom.contains(r#"<form class="filters" data-section="r1-items" hidden"#));
    assert!(!item_tags(&dom).iter().any(|t| t.contains("hidden")));

    // A filter in the address shows only the game whose orders disagree (report 2 is the
    // pairwise one) and leaves report 1 unfiltered.
    let (dom, console) = browse(
        &chrome,
        &profile,
        &format!("{url}#r2.verdict=inconsistent"),
        &["--dump-dom"],
    );
    assert!(console.is_empty(), "console: {console:#?}");
    let (first, second) = dom.split_at(dom.find(r#"<section id="r2""#).unwrap());
    assert!(!item_tags(first).iter().any(|t| t.contains("hidden")));
    let tags = item_tags(second);
    let shown: Vec<&String> = tags.iter().filter(|t| !t.contains("hidden")).collect();
    assert_eq!((shown.len(), tags.len()), (1, 6), "{shown:#?}");
    assert!(shown[0].contains("item inconsistent"));

    let shot = dir.path().join("report.png");
    browse(
        &chrome,
        &profile,
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}

/// The opening tags of the page's items.
fn item_tags(dom: &str) -> Vec<String> {
    dom.match_indices(r#"<div class="item"#)
        .map(|(i, _)| dom[i..i + dom[i..].find('>').unwrap()].to_string())
        .collect()
}

#[test]
fn the_content_security_policy_refuses_a_script_the_page_did_not_bring() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    small_run(dir.path());
    // A script that got into the page by any path the escaping missed: the policy, which
    // allows the page's own script by its hash alone, must refuse it.
    let html = page(dir.path()).replace(
        "</body>",
        "<script>document.body.dataset.injected = 'ran';</script></body>",
    );
    assert!(html.contains("dataset.injected"));
    let file = dir.path().join("injected.html");
    std::fs::write(&file, html).unwrap();
    let url = format!("file://{}", file.display());
    let (dom, console) = browse(&chrome, &dir.path().join("profile"), &url, &["--dump-dom"]);
    assert!(!dom.contains("data-injected"), "the injected script ran");
    assert!(
        dom.contains(r#"data-script="ready""#),
        "the page's own script still runs"
    );
    assert!(
        console
            .iter()
            .any(|l| l.contains("Content Security Policy") || l.contains("Content-Security-Policy")),
        "the refusal is reported: {console:#?}"
    );
}
