//! What goes over the wire: requests built with async-openai's types, and a lenient reading
//! of responses, since OpenAI-compatible servers (vLLM, llama.cpp, Ollama, proxies) differ in
//! what they put in a reply (no `created`, unknown `finish_reason`, extra fields).

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, CreateChatCompletionRequest,
};
use serde::{Deserialize, Serialize};

use super::{ChatResponse, ClientError};
use crate::types::Usage;

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// The speaker.
    pub role: Role,
    /// Plain-text content.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// One chat-completion request, independent of the endpoint it is sent to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The model name the API expects.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Cap on generated tokens.
    pub max_tokens: u32,
    /// Which repetition of the same request this is (`--judge-samples`): never sent, but part
    /// of the cache key, so K samples are K calls rather than one reply served K times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<u32>,
    /// A JSON schema the reply must follow (`response_format` with `json_schema`), for
    /// servers that honour it; part of the cache key, as it changes the reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<serde_json::Value>,
    /// Whom the reply is booked to (see [`super::Ledger`]); never sent, not in the cache key.
    #[serde(skip)]
    pub account: Option<super::Account>,
}

impl ChatRequest {
    /// Bytes of message text, with a few for each message's framing: what prompt-token
    /// estimates are made from (see `pace`, which learns the tokens per byte as it goes).
    pub fn prompt_bytes(&self) -> usize {
        self.messages.iter().map(|m| m.content.len() + 12).sum()
    }

    /// The JSON body, built from async-openai's request types.
    pub fn to_body(&self) -> CreateChatCompletionRequest {
        let messages = self
            .messages
            .iter()
            .map(|m| match m.role {
                Role::System => {
                    ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(
                        ChatCompletionRequestSystemMessageContent::Text(m.content.clone()),
                    ))
                }
                Role::User => {
                    ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(
                        ChatCompletionRequestUserMessageContent::Text(m.content.clone()),
                    ))
                }
                Role::Assistant => ChatCompletionRequestMessage::Assistant(
                    ChatCompletionRequestAssistantMessage::from(
                        ChatCompletionRequestAssistantMessageContent::Text(m.content.clone()),
                    ),
                ),
            })
            .collect();
        #[allow(deprecated)]
        CreateChatCompletionRequest {
            model: self.model.clone(),
            messages,
            temperature: Some(self.temperature),
            // `max_tokens` rather than `max_completion_tokens`: every OpenAI-compatible
            // server understands it.
            max_tokens: Some(self.max_tokens),
            response_format: self.json_schema.as_ref().map(|schema| {
                async_openai::types::chat::ResponseFormat::JsonSchema {
                    json_schema: async_openai::types::chat::ResponseFormatJsonSchema {
                        description: None,
                        name: "verdict".into(),
                        schema: schema.clone(),
                        strict: Some(true),
                    },
                }
            }),
            ..Default::default()
        }
    }
}

/// The parts of a chat-completion response shinpan uses.
#[derive(Debug, Deserialize)]
pub(crate) struct WireResponse {
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// An error object some providers and proxies send with status 200.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireChoice {
    #[serde(default)]
    pub message: Option<WireMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireMessage {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// A reasoning model's thinking, sent apart from the answer (vLLM, DeepSeek, llama.cpp:
    /// `reasoning_content`; some servers: `reasoning`).
    #[serde(default, alias = "reasoning")]
    pub reasoning_content: Option<String>,
    /// Tool calls instead of text (a model that was offered no tools may still send one).
    #[serde(default)]
    pub tool_calls: Option<serde_json::Value>,
    #[serde(default)]
    pub function_call: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    /// OpenAI's and vLLM's `prompt_tokens_details` (`cached_tokens`: served from the prompt
    /// cache); absent or `null` on servers that do not say.
    #[serde(default)]
    pub prompt_tokens_details: Option<WireTokenDetails>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTokenDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        let cached = u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
            .min(u.prompt_tokens);
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            cached_prompt_tokens: cached,
        }
    }
}

/// Pulls a human-readable message out of an error body (OpenAI `{"error":{"message"}}`,
/// old vLLM `{"object":"error","message"}`, or plain text), shortened.
pub(crate) fn error_message(body: &str) -> String {
    let from_json = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .or_else(|| v.get("error"))
                .and_then(|m| m.as_str().map(str::to_string))
        });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Reads a successful reply leniently. An empty reply the provider refused or filtered is an
/// error, not an answer; so is a reply with no text at all (`content: null`, or only a tool
/// call), and a 200 whose body is an error object (its message is the provider's).
pub(crate) fn parse_response(text: &str) -> Result<ChatResponse, ClientError> {
    let wire: WireResponse = serde_json::from_str(text).map_err(|e| {
        let head: String = text.chars().take(120).collect();
        ClientError::Malformed(format!("{e} in {head:?}"))
    })?;
    if wire.choices.is_empty()
        && let Some(err) = &wire.error
    {
        return Err(provider_error(err));
    }
    let usage = wire.usage.map(Usage::from);
    let choice = wire
        .choices
        .into_iter()
        .next()
        .ok_or(ClientError::NoChoices)?;
    let finish_reason = choice.finish_reason.unwrap_or_else(|| "stop".into());
    let message = choice.message;
    let refusal = message.as_ref().and_then(|m| m.refusal.clone());
    let reasoning = message
        .as_ref()
        .and_then(|m| m.reasoning_content.clone())
        .filter(|r| !r.trim().is_empty());
    let tool_call = message
        .as_ref()
        .is_some_and(|m| m.tool_calls.is_some() || m.function_call.is_some());
    let content = message.and_then(|m| m.content);
    if content.as_deref().is_none_or(str::is_empty)
        && (finish_reason == "content_filter" || refusal.is_some())
    {
        return Err(ClientError::Refused(
            refusal.unwrap_or_else(|| format!("finish_reason {finish_reason}")),
        ));
    }
    let mut content = match (content, &reasoning) {
        (Some(c), _) => c,
        // A reasoning model cut while thinking has said nothing yet: its thinking is kept.
        (None, Some(_)) => String::new(),
        (None, None) if tool_call => {
            return Err(ClientError::NoContent(
                "only a tool call, no text".to_string(),
            ));
        }
        (None, None) => {
            return Err(ClientError::NoContent(format!(
                "content is null, finish_reason {finish_reason}"
            )));
        }
    };
    // Reasoning sent apart is kept in the reply as a think block, as models that think in
    // their content write it: one form to store, cache and split (`crate::reasoning`).
    if let Some(r) = reasoning {
        content = format!("<think>{r}</think>\n{content}");
    }
    Ok(ChatResponse {
        content,
        finish_reason,
        usage: usage.unwrap_or_default(),
        usage_estimated: usage.is_none(),
        attempts: 1,
        invalid_utf8: false,
    })
}

/// The error a 200 carried: the provider's message, retried when its type says the fault is
/// passing (overloaded, rate-limited, a server error), tried once more otherwise.
fn provider_error(err: &serde_json::Value) -> ClientError {
    let message = err
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .or_else(|| err.as_str().map(str::to_string))
        .unwrap_or_else(|| err.to_string());
    let kind = ["type", "code", "status"]
        .iter()
        .filter_map(|k| err.get(*k))
        .map(|v| match v {
            serde_json::Value::String(s) => s.to_lowercase(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    let passing = [
        "overload",
        "rate",
        "server",
        "timeout",
        "unavailable",
        "429",
        "500",
        "502",
        "503",
        "504",
    ]
    .iter()
    .any(|w| kind.contains(w));
    let mut short: String = message.chars().take(300).collect();
    if short.len() < message.len() {
        short.push('…');
    }
    ClientError::Provider {
        message: short,
        passing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_parsing_accepts_what_compatible_servers_send() {
        let r = parse_response(
            r#"{"choices":[{"message":{"content":"はい"},"finish_reason":"eos_token"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!(
            (r.content.as_str(), r.finish_reason.as_str()),
            ("はい", "eos_token")
        );
        assert_eq!(r.usage.total(), 5);
        assert!(matches!(
            parse_response(r#"{"choices":[]}"#),
            Err(ClientError::NoChoices)
        ));
        assert!(matches!(
            parse_response("<html>"),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            parse_response(
                r#"{"choices":[{"message":{"content":null},"finish_reason":"content_filter"}]}"#
            ),
            Err(ClientError::Refused(_))
        ));
    }

    #[test]
    fn no_text_and_error_bodies_are_failures_with_their_reason() {
        let e =
            parse_response(r#"{"choices":[{"message":{"content":null},"finish_reason":"stop"}]}"#)
                .unwrap_err();
        assert!(matches!(&e, ClientError::NoContent(_)), "{e}");
        assert!(e.to_string().contains("no content"), "{e}");
        let e = parse_response(
            r#"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"1"}]},"finish_reason":"tool_calls"}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("tool call"), "{e}");
        let e = parse_response(
            r#"{"error":{"message":"model not loaded","type":"invalid_request_error"}}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("model not loaded"), "{e}");
        assert_eq!(e.retry(), super::super::Retry::Deterministic);
        let e =
            parse_response(r#"{"error":{"message":"busy","type":"server_error"}}"#).unwrap_err();
        assert_eq!(e.retry(), super::super::Retry::Transient);
        // No usage: estimated later, and marked.
        let r = parse_response(r#"{"choices":[{"message":{"content":"はい"}}]}"#).unwrap();
        assert!(r.usage_estimated);
        // An empty string is an (empty) answer, not a missing one.
        assert_eq!(
            parse_response(r#"{"choices":[{"message":{"content":""}}],"usage":{"prompt_tokens":1,"completion_tokens":0}}"#)
                .unwrap()
                .content,
            ""
        );
    }
}
