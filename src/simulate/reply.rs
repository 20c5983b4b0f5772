//! What the simulator says: candidate answers whose length grows with a model's quality,
//! and judge verdicts that follow the answers' merit.

use super::{JudgeStyle, SimConfig, unit};
use crate::judge::verdict::{ASPECTS_HEADING, Asks, recognise};
use crate::types::Scale;

const SENTENCES: &[&str] = &[
    "ご質問の要点を順に整理してお答えします。",
    "まず前提となる条件を確認しましょう。",
    "一般的には、背景を理解することが最も重要です。",
    "具体例を挙げると、身近な場面でも同じ考え方が使えます。",
    "注意すべき点は、例外的な状況があり得ることです。",
    "歴史的に見ると、この考え方は少しずつ発展してきました。",
    "数値で確かめると、結論が正しいことがわかります。",
    "別の見方をすれば、利点と欠点の両方があります。",
    "実際に試す場合は、小さな規模から始めるのがよいでしょう。",
    "以上をまとめると、状況に応じて判断することが大切です。",
    "さらに詳しく知りたい場合は、専門の資料も参考になります。",
    "最後に、要点をもう一度簡潔に確認しておきます。",
];

fn quality(config: &SimConfig, model: &str) -> f64 {
    config
        .quality
        .get(model)
        .copied()
        .unwrap_or_else(|| 0.2 + 0.7 * unit(&[&config.seed.to_le_bytes(), model.as_bytes()]))
}

/// What the simulator says to one request.
pub(super) struct Said {
    /// The assistant's text.
    pub(super) text: String,
    /// Whether the request was a judge's.
    pub(super) judge: bool,
    /// Whether the verdict was garbled on purpose (no readable verdict).
    pub(super) garbled: bool,
}

fn judge(text: String) -> Said {
    Said {
        text,
        judge: true,
        garbled: false,
    }
}

fn garbled(text: &str) -> Said {
    Said {
        text: text.into(),
        judge: true,
        garbled: true,
    }
}

/// One request as the simulator sees it.
struct Asked<'a> {
    config: &'a SimConfig,
    /// How the judge asked plays (its strictness and bias).
    style: JudgeStyle,
    /// The system message and the first user message: what a judge is told.
    told: &'a str,
    /// The first user message (a judge's prompt, or a candidate's question).
    prompt: &'a str,
    /// Every message's text, joined: what draws depend on.
    key: Vec<u8>,
    /// A judge asked again for its verdict alone.
    reask: bool,
    /// The request asked for a schema-constrained JSON verdict.
    structured: bool,
}

impl Asked<'_> {
    fn unit(&self, what: &[u8]) -> f64 {
        unit(&[&self.config.seed.to_le_bytes(), &self.key, what])
    }

    /// Whether this first (not re-asked, not constrained) verdict is garbled.
    fn garbles(&self) -> bool {
        !self.structured && !self.reask && self.unit(b"garble") < self.config.garble_rate
    }
}

/// The reply to a conversation. `structured`: the request asked for a schema-constrained
/// JSON verdict, which a judge then always gives.
pub(super) fn reply(
    config: &SimConfig,
    model: &str,
    messages: &[(String, String)],
    structured: bool,
) -> Said {
    // Upstream prompt sets put their instructions (and the verdict format) in the system
    // message: a judge request is told by the system message and the first user message.
    let system = messages
        .iter()
        .find(|(r, _)| r == "system")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    let user = messages
        .iter()
        .find(|(r, _)| r == "user")
        .map(|(_, c)| c.as_str())
        .unwrap_or("");
    let told = format!("{system}\n{user}");
    let asked = Asked {
        config,
        style: config.judges.get(model).copied().unwrap_or(JudgeStyle {
            offset: 0.0,
            position_bias: config.position_bias,
        }),
        told: &told,
        prompt: user,
        key: messages
            .iter()
            .flat_map(|(_, c)| c.as_bytes())
            .copied()
            .collect(),
        reask: messages.iter().filter(|(r, _)| r == "user").count() > 1
            && messages.iter().any(|(r, _)| r == "assistant"),
        structured,
    };
    match recognise(&told) {
        Some(Asks::Aspects) => rubric(&asked),
        Some(Asks::Choice) => choice(&asked),
        Some(Asks::Rating) => rating(&asked),
        None => candidate(&asked, model),
    }
}

/// A rubric verdict: each listed aspect graded around the answer's overall merit.
fn rubric(a: &Asked) -> Said {
    let aspects: Vec<&str> = a
        .prompt
        .split(ASPECTS_HEADING)
        .nth(1)
        .unwrap_or("")
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with("- "))
        .map(|l| l[2..].trim())
        .collect();
    if a.garbles() {
        return garbled("各観点ともおおむね良好です。");
    }
    // Every aspect on the scale the prompt asks for (1-10 unless it says otherwise).
    let scale = asked_scale(a.told);
    let base = single_verdict(a, scale) as f64;
    let fields: Vec<String> = aspects
        .iter()
        .map(|name| {
            let jitter = (a.unit(name.as_bytes()) * 3.0).floor() - 1.0;
            let grade = (base + jitter).clamp(f64::from(scale.min), f64::from(scale.max));
            format!("\"{name}\": {grade}")
        })
        .collect();
    let json = format!("{{{}}}", fields.join(", "));
    judge(if a.structured {
        format!(
            "{{\"explanation\": \"各観点を検討しました。\", {}}}",
            fields.join(", ")
        )
    } else if a.reask {
        json
    } else {
        format!("各観点について検討しました。\n\n```json\n{json}\n```")
    })
}

/// A pairwise verdict for the better answer.
fn choice(a: &Asked) -> Said {
    let choice = pair_verdict(a);
    if a.garbles() {
        return garbled("どちらの回答にも長所があり、判断が難しいところです。");
    }
    // Rakuda's prompt asks for 1, 2 or 3 on the last line.
    if a.prompt.contains(crate::judge::verdict::LAST_DIGIT_MARK) {
        let digit = match choice {
            'A' => 1,
            'B' => 2,
            _ => 3,
        };
        return judge(format!("両方の回答を比較しました。\n{digit}"));
    }
    judge(if a.structured {
        format!("{{\"explanation\": \"両方の回答を比較しました。\", \"verdict\": \"{choice}\"}}")
    } else if a.reask {
        format!("[[{choice}]]")
    } else {
        format!(
            "両方の回答を比較しました。内容の正確さと詳しさを考慮すると、最終判定は次のとおりです。\n\n[[{choice}]]"
        )
    })
}

/// A grade following the merit of the answer under judgment, on the scale the prompt asks
/// for.
fn rating(a: &Asked) -> Said {
    let score = single_verdict(a, asked_scale(a.told));
    if a.garbles() {
        return garbled("この回答はおおむね良いと思います。評価は高めです。");
    }
    judge(if a.structured {
        format!("{{\"explanation\": \"回答を検討しました。\", \"rating\": {score}}}")
    } else if a.reask {
        format!("[[{score}]]")
    } else {
        format!("回答は質問に答えており、説明の詳しさも考慮しました。\n\n評価: [[{score}]]")
    })
}

/// A candidate answer: longer and richer for better models.
fn candidate(a: &Asked, model: &str) -> Said {
    let q = quality(a.config, model);
    let n = 1 + (q * 9.0).round() as usize;
    let mut out = String::new();
    for i in 0..n {
        let pick = (unit(&[
            &a.config.seed.to_le_bytes(),
            model.as_bytes(),
            &a.key,
            &i.to_le_bytes(),
        ]) * SENTENCES.len() as f64) as usize;
        out.push_str(SENTENCES[pick.min(SENTENCES.len() - 1)]);
    }
    Said {
        text: out,
        judge: false,
        garbled: false,
    }
}

/// Text between the first `start` marker and the next `end` marker after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let s = text.find(start)? + start.len();
    let e = text[s..].find(end)? + s;
    Some(&text[s..e])
}

/// How good an answer looks to the simulated judge: its sentence count, plus noise.
fn merit(config: &SimConfig, answer: &str) -> f64 {
    let sentences = answer.matches('。').count() + answer.matches(". ").count();
    sentences as f64 + 1.5 * (unit(&[&config.seed.to_le_bytes(), answer.as_bytes()]) - 0.5)
}

/// The judged answer of a single-mode prompt: the fenced answer, or the last assistant turn
/// of a multi-turn conversation.
fn judged_answer(prompt: &str) -> &str {
    for (start, end) in SINGLE_MARKERS {
        if let Some(a) = between(prompt, start, end) {
            return a;
        }
    }
    for (start, end, turn) in CONVERSATION_MARKERS {
        if let Some(conv) = between(prompt, start, end)
            && let Some(pos) = conv.rfind(turn)
        {
            return &conv[pos..];
        }
    }
    prompt
}

/// Where the answer under judgment starts and ends in the single prompts the simulator
/// knows: shinpan's, ja-vicuna-qa's, MT-bench's.
const SINGLE_MARKERS: [(&str, &str); 3] = [
    ("[アシスタントの回答の開始]", "[アシスタントの回答の終了]"),
    (
        "[アシスタントの答えの始まり]",
        "[アシスタントの答えの終わり]",
    ),
    (
        "[The Start of Assistant's Answer]",
        "[The End of Assistant's Answer]",
    ),
];

/// The conversation of a multi-turn single prompt, and how its assistant turns start (the
/// last one is under judgment): shinpan's, MT-bench's.
const CONVERSATION_MARKERS: [(&str, &str, &str); 2] = [
    (
        "<|アシスタントとの会話の開始|>",
        "<|アシスタントとの会話の終了|>",
        "### アシスタント:",
    ),
    (
        "<|The Start of Assistant A's Conversation with User|>",
        "<|The End of Assistant A's Conversation with User|>",
        "### Assistant A:",
    ),
];

/// The scale a grading prompt asks for: the first "1から10" / "1から5までの" / "on a scale
/// of 1 to 10" it says (the instructions come before the answers), else 1-10.
fn asked_scale(told: &str) -> Scale {
    static SAID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(\d{1,2})\s*から\s*(\d{1,2})|scale of (\d{1,2}) to (\d{1,2})")
            .expect("valid regex")
    });
    SAID.captures(told)
        .and_then(|c| {
            let lo = c.get(1).or(c.get(3))?.as_str().parse().ok()?;
            let hi = c.get(2).or(c.get(4))?.as_str().parse().ok()?;
            (lo < hi).then_some(Scale { min: lo, max: hi })
        })
        .unwrap_or(Scale::TEN)
}

/// The judge's grade of the answer under judgment: its merit read on 1-10, moved by the
/// judge's strictness, then put on `scale`.
fn single_verdict(a: &Asked, scale: Scale) -> u32 {
    let m = merit(a.config, judged_answer(a.prompt));
    let ten = (1.0 + m * 0.9 + a.style.offset).round().clamp(1.0, 10.0);
    let on = f64::from(scale.min) + (ten - 1.0) / 9.0 * scale.span();
    on.round() as u32
}

/// The start and end markers of the two answers in the pairwise prompts the simulator
/// knows: shinpan's (one turn, and the conversation), ja-vicuna-qa's, Rakuda's, MT-bench's.
const PAIR_MARKERS: [[&str; 4]; 5] = [
    [
        "[アシスタントAの回答の開始]",
        "[アシスタントAの回答の終了]",
        "[アシスタントBの回答の開始]",
        "[アシスタントBの回答の終了]",
    ],
    [
        "<|アシスタントAとの会話の開始|>",
        "<|アシスタントAとの会話の終了|>",
        "<|アシスタントBとの会話の開始|>",
        "<|アシスタントBとの会話の終了|>",
    ],
    [
        "[アシスタントAの答えの始まり]",
        "[アシスタントAの答えの終わり]",
        "[アシスタントBの答えの始まり]",
        "[アシスタントBの答えの終わり]",
    ],
    [
        "[アシスタント1の回答の開始]",
        "[アシスタント1の回答の終了]",
        "[アシスタント2の回答の開始]",
        "[アシスタント2の回答の終了]",
    ],
    [
        "[The Start of Assistant A's Answer]",
        "[The End of Assistant A's Answer]",
        "[The Start of Assistant B's Answer]",
        "[The End of Assistant B's Answer]",
    ],
];

fn pair_answers(prompt: &str) -> Option<(&str, &str)> {
    PAIR_MARKERS
        .iter()
        .find_map(|[sa, ea, sb, eb]| Some((between(prompt, sa, ea)?, between(prompt, sb, eb)?)))
}

fn pair_verdict(a: &Asked) -> char {
    let (config, prompt) = (a.config, a.prompt);
    let seed = config.seed.to_le_bytes();
    if unit(&[&seed, prompt.as_bytes(), b"position"]) < a.style.position_bias {
        return 'A';
    }
    let Some((a, b)) = pair_answers(prompt) else {
        let x = unit(&[&seed, prompt.as_bytes()]);
        return if x < 0.4 {
            'A'
        } else if x < 0.8 {
            'B'
        } else {
            'C'
        };
    };
    let d = merit(config, a) - merit(config, b);
    if d > 0.75 {
        'A'
    } else if d < -0.75 {
        'B'
    } else {
        'C'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn better_models_write_longer_answers_and_win() {
        let mut config = SimConfig::default();
        config.quality.insert("good".into(), 0.9);
        config.quality.insert("weak".into(), 0.1);
        let msgs = vec![("user".to_string(), "日本の首都は？".to_string())];
        let good = reply(&config, "good", &msgs, false);
        let weak = reply(&config, "weak", &msgs, false).text;
        assert!(!good.judge && good.text.chars().count() > weak.chars().count());
        let good = good.text;
        let prompt = format!(
            "[[A]] [アシスタントAの回答の開始]{good}[アシスタントAの回答の終了][アシスタントBの回答の開始]{weak}[アシスタントBの回答の終了]"
        );
        let judged = reply(&config, "j", &[("user".to_string(), prompt)], false);
        assert!(
            judged.judge && judged.text.ends_with("[[A]]"),
            "{}",
            judged.text
        );
    }

    #[test]
    fn a_judge_grades_on_the_scale_it_is_asked_and_plays_its_style() {
        assert_eq!(
            asked_scale("回答を1から10の尺度で評価してください"),
            Scale::TEN
        );
        assert_eq!(asked_scale("1から5までの整数で評価を示し"), Scale::FIVE);
        assert_eq!(
            asked_scale("rate the response on a scale of 0 to 10 by"),
            Scale { min: 0, max: 10 }
        );
        assert_eq!(asked_scale("[[rating]]"), Scale::TEN);
        let mut config = SimConfig::default();
        config.quality.insert("good".into(), 0.9);
        let q = vec![("user".to_string(), "日本の首都は？".to_string())];
        let answer = reply(&config, "good", &q, false).text;
        let grade = |config: &SimConfig, judge: &str, scale: &str| -> u32 {
            let prompt = format!(
                "回答を{scale}の尺度で評価し[[rating]]の形式で。[アシスタントの答えの始まり]{answer}[アシスタントの答えの終わり]"
            );
            let t = reply(config, judge, &[("user".to_string(), prompt)], false).text;
            t.rsplit("[[")
                .next()
                .unwrap()
                .trim_end_matches("]]")
                .parse()
                .unwrap()
        };
        let ten = grade(&config, "j", "1から10");
        assert!((8..=10).contains(&ten), "{ten}");
        let five = grade(&config, "j", "1から5");
        assert!((4..=5).contains(&five), "{five}");
        config.judges.insert(
            "harsh".into(),
            JudgeStyle {
                offset: -3.0,
                position_bias: 0.0,
            },
        );
        assert_eq!(grade(&config, "harsh", "1から10"), ten - 3);
    }
}
