//! Replies of reasoning models: thinking before the answer, either in the content between
//! `<think>` and `</think>` (DeepSeek-R1, Qwen3 and their kin) or in a separate
//! `reasoning_content` field, which the client folds into the same form. Candidates are
//! judged on their final answer (unless configured otherwise) with their reasoning kept in
//! the answer record; a judge's reasoning is kept with its judgment and never read for the
//! verdict.

/// A reply split into its reasoning and its final answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split<'a> {
    /// The thinking, if the reply has any.
    pub reasoning: Option<&'a str>,
    /// The answer after it (the whole reply when there is no thinking).
    pub answer: &'a str,
}

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Splits a reply. A reply may start inside its thinking (templates that put `<think>` in
/// the prompt) and so have only the closing tag; a reply cut off while thinking (the output
/// cap) has only the opening tag, and no answer.
pub fn split(reply: &str) -> Split<'_> {
    let lead = reply.trim_start();
    let opened = lead.starts_with(OPEN);
    match reply.find(CLOSE) {
        Some(end) => {
            let start = if opened {
                reply.len() - lead.len() + OPEN.len()
            } else {
                0
            };
            if !opened && reply[..end].contains(OPEN) {
                // A think block later in the reply is not this model's thinking.
                return Split {
                    reasoning: None,
                    answer: reply,
                };
            }
            Split {
                reasoning: Some(reply[start..end].trim()),
                answer: reply[end + CLOSE.len()..].trim_start(),
            }
        }
        None if opened => Split {
            reasoning: Some(lead[OPEN.len()..].trim()),
            answer: "",
        },
        None => Split {
            reasoning: None,
            answer: reply,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_in_every_form_is_split_from_the_answer() {
        let s = split("<think>まず考える。[[1]]</think>\n答えは東京です。");
        assert_eq!(s.reasoning, Some("まず考える。[[1]]"));
        assert_eq!(s.answer, "答えは東京です。");
        // Opened in the prompt: only the closing tag is in the reply.
        let s = split("考え中…</think>答え");
        assert_eq!((s.reasoning, s.answer), (Some("考え中…"), "答え"));
        // Cut off while thinking: no answer.
        let s = split("<think>長い考え");
        assert_eq!((s.reasoning, s.answer), (Some("長い考え"), ""));
        // No thinking.
        assert_eq!(split("ただの答え").reasoning, None);
        // A tag quoted inside an answer is not thinking.
        let s = split("HTMLでは <think>x</think> と書きます");
        assert_eq!(
            (s.reasoning, s.answer),
            (None, "HTMLでは <think>x</think> と書きます")
        );
    }
}
