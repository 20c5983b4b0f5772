//! Reasoning models: a candidate that thinks in `<think>…</think>` and one that sends
//! `reasoning_content` apart are judged on their final answers, with the thinking kept in the
//! answer record and its length reported; a judge's own thinking is kept with its judgment
//! and never read for the verdict.

use serde_json::{Value, json};
use shinpan::records::{AnswerRecord, SingleJudgment};
use shinpan::store::read_jsonl;
use shinpan::types::Mode;

use crate::fake::{Fake, Reply, first_user};
use crate::support::{builder, candidate, is_judge, user_turns};

/// A completion with `reasoning_content` beside the content (vLLM, DeepSeek).
fn with_reasoning(content: &str, reasoning: &str) -> Reply {
    let body = json!({
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content,
                                 "reasoning_content": reasoning}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    });
    Reply::Raw(
        200,
        vec![("content-type", "application/json".into())],
        body.to_string(),
    )
}

/// The candidates: `tagger` thinks in its content, `apart` in `reasoning_content`. The judge
/// thinks `[[1]]` and decides `[[9]]`; asked about an answer mentioning 「迷う」, it decides
/// nothing outside its thinking.
fn script(_: usize, body: &Value) -> Reply {
    if is_judge(body) {
        let prompt = first_user(body);
        return if prompt.contains("迷う") {
            Reply::Text("<think>[[2]] かな</think>\n決められません。".into())
        } else {
            Reply::Text("<think>最初は [[1]] と思った。</think>\n良い回答です。評価: [[9]]".into())
        };
    }
    let answer = candidate(body);
    let thought = format!("考え{}: [[10]] と書いておこう", user_turns(body));
    match body["model"].as_str().unwrap() {
        "tagger" => Reply::Text(format!("<think>{thought}</think>\n{answer}")),
        "apart" => with_reasoning(&answer, &thought),
        _ => Reply::Text(format!("{answer} 迷う")),
    }
}

#[tokio::test]
async fn thinking_is_kept_and_only_final_answers_and_verdicts_count() {
    let fake = Fake::start(script).await;
    let dir = tempfile::tempdir().unwrap();
    let opts = builder(
        &fake.base_url(),
        dir.path(),
        &["tagger", "apart", "plain"],
        Mode::Single,
    )
    .with(|s| s.reasks = Some(0))
    .build()
    .unwrap();
    let out = shinpan::pipeline::run(&opts, false).await.unwrap();
    let answers = |m: &str| -> Vec<AnswerRecord> {
        read_jsonl(&dir.path().join(format!("out/answers/{m}.jsonl")))
            .unwrap()
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    };
    for m in ["tagger", "apart", "plain"] {
        assert_eq!(answers(m).len(), 2, "{m}: an answer to each question");
    }
    for m in ["tagger", "apart"] {
        for a in answers(m) {
            let c = &a.choices[0];
            assert_eq!(
                c.turns,
                [format!("{m}の回答1"), format!("{m}の回答2")],
                "final answers"
            );
            assert_eq!(
                c.reasoning,
                [
                    Some("考え1: [[10]] と書いておこう".to_string()),
                    Some("考え2: [[10]] と書いておこう".to_string())
                ]
            );
        }
    }
    assert!(
        answers("plain")
            .iter()
            .all(|a| a.choices[0].reasoning.is_empty())
    );
    // Turn 2 was asked with the turn-1 answer, not the thinking; the judge never saw it.
    assert!(
        fake.seen().len() >= 3 * 4 + 12,
        "every answer turn and grade was asked"
    );
    for s in fake.seen() {
        let text = s
            .messages()
            .iter()
            .map(|(_, c)| c.clone())
            .collect::<String>();
        assert!(
            !text.contains("考え"),
            "thinking went into a request: {text}"
        );
    }
    // The judge's thinking is kept, its verdict read from what follows it.
    let grades: Vec<SingleJudgment> =
        read_jsonl(&dir.path().join("out/judgments/judge_single.jsonl"))
            .unwrap()
            .into_iter()
            .map(|(_, j)| j)
            .collect();
    assert_eq!(grades.len(), 3 * 4, "3 models × 2 questions × 2 turns");
    for g in &grades {
        assert!(g.judgment.starts_with("<think>"), "{}", g.judgment);
        match g.model.as_str() {
            // Its thinking says [[1]] or [[2]]; only what follows counts.
            "plain" => assert_eq!(g.score, None, "no verdict outside the thinking"),
            _ => assert_eq!(g.score, Some(9.0)),
        }
    }
    // The thinking's length is reported for the models that thought.
    let tagger = out
        .report
        .models
        .iter()
        .find_map(|m| match m {
            shinpan::aggregate::ModelSummary::Single(s) if s.model == "tagger" => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        tagger.reasoning_chars,
        Some("考え1: [[10]] と書いておこう".chars().count() as f64)
    );
    let json = serde_json::to_value(&out.report).unwrap();
    let plain = json["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "plain")
        .unwrap();
    assert!(plain.get("reasoning_chars").is_none());
}
