//! What a judgment was made on. Every judgment shinpan writes carries `input_digest`, a hash of
//! exactly what the judge was shown: the question's turns up to the one judged, the reference
//! turns up to it (when one is used) and each answer's turns up to it. A judgment counts, and
//! is reused, only while its digest matches the inputs held now, so a changed answer
//! invalidates exactly the judgments that showed it (turn 1 of an answer whose turn 2 changed
//! is the same input).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{AnswerRecord, Question};

/// A 64-bit input digest, written as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputDigest(pub u64);

impl Serialize for InputDigest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:016x}", self.0))
    }
}

/// Reads a 16-hex-digit digest; anything else (a field from another tool) reads as absent.
pub fn lenient_digest<'de, D: Deserializer<'de>>(d: D) -> Result<Option<InputDigest>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(v.as_ref()
        .and_then(|v| v.as_str())
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .map(InputDigest))
}

/// Digest of what a judgment of `turn` (1-based) shows the judge.
pub fn input_digest(q: &Question, answers: &[&AnswerRecord], turn: usize) -> InputDigest {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    for t in q.turns.iter().take(turn) {
        part(t);
    }
    part("reference");
    for t in q.judged_reference().unwrap_or(&[]).iter().take(turn) {
        part(t);
    }
    for a in answers {
        part("answer");
        for t in a.turns().iter().take(turn) {
            part(t);
        }
    }
    InputDigest(u64::from_be_bytes(
        h.finalize()[..8].try_into().expect("8 bytes"),
    ))
}
