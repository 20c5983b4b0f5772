//! Candidate answers: each question is played as a conversation, turn by turn (turn 2 sees
//! the model's own answer to turn 1), and written as a FastChat answer record.

use crate::client::{Account, ChatRequest, Client, ClientError, Message, Stage};
use crate::records::{AnswerRecord, Choice, Question};
use crate::types::{QuestionId, Usage};
use crate::util::unix_now;

/// A model under evaluation and how to ask it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Display name (answers file name, judgment records, reports).
    pub name: String,
    /// The model name the API expects.
    pub api_model: String,
    /// Client for its endpoint.
    pub client: Client,
    /// System prompt placed before the first turn.
    pub system_prompt: Option<String>,
    /// Fixed temperature; `None` uses the per-category table.
    pub temperature: Option<f32>,
    /// Output cap per turn.
    pub max_tokens: u32,
    /// Show the judge a reasoning model's thinking with its answer (default: the answer only;
    /// the thinking is kept in the record either way).
    pub keep_reasoning: bool,
    /// The largest question turn sent, in bytes (`--max-turn-bytes`).
    pub max_turn_bytes: usize,
}

/// FastChat's sampling temperature for a question category.
pub fn category_temperature(category: &str) -> f32 {
    match category {
        "writing" | "roleplay" => 0.7,
        "extraction" | "math" | "coding" | "reasoning" => 0.0,
        "stem" | "humanities" => 0.1,
        _ => 0.7,
    }
}

/// Why an answer could not be produced.
#[derive(Debug, thiserror::Error)]
#[error("{model}, question {question_id}, turn {turn}: {source}")]
pub struct GenerateError {
    /// The model asked.
    pub model: String,
    /// The question.
    pub question_id: QuestionId,
    /// The turn that failed (1-based).
    pub turn: usize,
    /// What the client reported.
    pub source: ClientError,
}

/// The conversation a candidate starts a question with: its system prompt, if any.
pub fn opening(c: &Candidate) -> Vec<Message> {
    c.system_prompt
        .iter()
        .map(|s| Message::system(s.clone()))
        .collect()
}

/// The output cap of one turn of `q`: a task sample's `output_length`, else the
/// candidate's.
pub fn answer_cap(c: &Candidate, q: &Question) -> u32 {
    q.task.as_ref().map_or(c.max_tokens, |t| t.output_length)
}

/// The request for the next turn of `q`, `messages` being the conversation so far with the
/// turn's user message last: what [`answer`] sends, and what `shinpan batch export` writes.
pub fn turn_request(c: &Candidate, q: &Question, messages: &[Message]) -> ChatRequest {
    ChatRequest {
        model: c.api_model.clone(),
        messages: messages.to_vec(),
        // A task sample is answered greedily within its task's cap, as llm-jp-eval asks
        // (a fixed --temperature still wins).
        temperature: c.temperature.unwrap_or_else(|| match &q.task {
            Some(_) => 0.0,
            None => category_temperature(&q.category),
        }),
        max_tokens: answer_cap(c, q),
        sample: None,
        json_schema: None,
        account: Some(Account {
            model: c.name.clone(),
            stage: Stage::Answer,
        }),
    }
}

/// An answer, and where its replies came from.
#[derive(Debug)]
pub struct Answered {
    /// The answer record.
    pub record: AnswerRecord,
    /// Every turn's reply came from the response cache (none was asked of the API now).
    pub from_cache: bool,
}

/// Plays every turn of `q` with the candidate and returns the answer record.
pub async fn answer(c: &Candidate, q: &Question) -> Result<Answered, GenerateError> {
    let mut from_cache = true;
    let mut messages = opening(c);
    let mut turns = Vec::with_capacity(q.turns.len());
    let mut reasoning = Vec::with_capacity(q.turns.len());
    let mut finish_reasons = Vec::with_capacity(q.turns.len());
    let mut usage = Usage::default();
    for (i, user) in q.turns.iter().enumerate() {
        if user.len() > c.max_turn_bytes {
            // Never sent: a turn this long is a broken question file, not a prompt.
            return Err(GenerateError {
                model: c.name.clone(),
                question_id: q.question_id.clone(),
                turn: i + 1,
                source: ClientError::Config(format!(
                    "the question's turn is {} bytes, over --max-turn-bytes {}",
                    user.len(),
                    c.max_turn_bytes
                )),
            });
        }
        messages.push(Message::user(user.clone()));
        let req = turn_request(c, q, &messages);
        let reply = c.client.chat(&req).await.map_err(|source| GenerateError {
            model: c.name.clone(),
            question_id: q.question_id.clone(),
            turn: i + 1,
            source,
        })?;
        usage += reply.usage;
        from_cache &= reply.attempts == 0;
        finish_reasons.push(reply.finish_reason);
        // The answer goes on in the conversation and to the judge; the thinking is kept.
        let split = crate::reasoning::split(&reply.content);
        let answer = if c.keep_reasoning {
            reply.content.clone()
        } else {
            split.answer.to_string()
        };
        reasoning.push(split.reasoning.map(str::to_string));
        messages.push(Message::assistant(split.answer.to_string()));
        turns.push(answer);
    }
    if reasoning.iter().all(Option::is_none) {
        reasoning.clear();
    }
    let record = AnswerRecord {
        question_id: q.question_id.clone(),
        answer_id: answer_id(&c.name, q.question_id.as_str(), &turns),
        model_id: c.name.clone(),
        choices: vec![Choice {
            index: 0,
            turns,
            reasoning,
        }],
        tstamp: unix_now(),
        usage: Some(usage),
        finish_reasons,
        bench: q.bench.clone(),
        served: Some(c.client.identity(&c.api_model).text.into()),
    };
    Ok(Answered { record, from_cache })
}

/// A short id derived from the answer's content (FastChat uses a random shortuuid; a content
/// hash lets two runs agree on which answer a judgment used).
fn answer_id(model: &str, qid: &str, turns: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [model, qid]
        .into_iter()
        .chain(turns.iter().map(String::as_str))
    {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastchat_temperature_table() {
        assert_eq!(category_temperature("writing"), 0.7);
        assert_eq!(category_temperature("math"), 0.0);
        assert_eq!(category_temperature("humanities"), 0.1);
        assert_eq!(category_temperature("その他"), 0.7);
    }
}
