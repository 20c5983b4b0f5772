//! Model families, for flagging self-preference: a judge grading a model of its own family
//! (GPT-4 judging GPT-4o) tends to favour it.

/// The family of a model name, from its organisation prefix (`org/name`, `org--name`) or its
/// name; `None` when unknown.
pub fn family(model: &str) -> Option<&'static str> {
    let lower = model.to_lowercase();
    let (org, name) = match lower.split_once('/').or_else(|| lower.split_once("--")) {
        Some((o, n)) => (o.to_string(), n.to_string()),
        None => (String::new(), lower.clone()),
    };
    const BY_ORG: &[(&str, &str)] = &[
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("google", "google"),
        ("meta-llama", "llama"),
        ("qwen", "qwen"),
        ("mistralai", "mistral"),
        ("deepseek-ai", "deepseek"),
        ("cohere", "cohere"),
        ("llm-jp", "llm-jp"),
        ("tokyotech-llm", "swallow"),
        ("elyza", "elyza"),
        ("cyberagent", "calm"),
        ("rinna", "rinna"),
        ("stabilityai", "stablelm"),
        ("microsoft", "phi"),
    ];
    if let Some((_, f)) = BY_ORG.iter().find(|(o, _)| *o == org) {
        return Some(f);
    }
    const BY_NAME: &[(&str, &str)] = &[
        ("gpt-", "openai"),
        ("chatgpt", "openai"),
        ("text-davinci", "openai"),
        ("o1", "openai"),
        ("o3", "openai"),
        ("o4", "openai"),
        ("claude", "anthropic"),
        ("gemini", "google"),
        ("gemma", "google"),
        ("llama", "llama"),
        ("qwen", "qwen"),
        ("mistral", "mistral"),
        ("mixtral", "mistral"),
        ("deepseek", "deepseek"),
        ("command-r", "cohere"),
        ("llm-jp", "llm-jp"),
        ("swallow", "swallow"),
        ("elyza", "elyza"),
        ("calm", "calm"),
        ("japanese-gpt-neox", "rinna"),
        ("stablelm", "stablelm"),
        ("japanese-stablelm", "stablelm"),
        ("phi-", "phi"),
    ];
    BY_NAME
        .iter()
        .find(|(p, _)| name.starts_with(p))
        .map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(family("gpt-4"), Some("openai"));
        assert_eq!(family("gpt-4o-2024-08-06"), Some("openai"));
        assert_eq!(family("openai--text-davinci-003"), Some("openai"));
        assert_eq!(family("claude-3-opus-20240229"), Some("anthropic"));
        assert_eq!(
            family("tokyotech-llm/Swallow-70b-instruct-hf"),
            Some("swallow")
        );
        assert_eq!(
            family("rinna--japanese-gpt-neox-3.6b-instruction-ppo"),
            Some("rinna")
        );
        assert_eq!(family("Qwen-72B-Chat"), Some("qwen"));
        assert_eq!(family("my-model"), None);
    }
}
