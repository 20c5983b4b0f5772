//! JSON export: `{"mode", "judge", "models": [...]}`, or an array of those.

use super::Exporter;
use crate::aggregate::Report;

/// Pretty-printed JSON.
pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn serialize(&self, reports: &[Report]) -> anyhow::Result<Vec<u8>> {
        let mut out = match reports {
            [one] => serde_json::to_vec_pretty(one)?,
            many => serde_json::to_vec_pretty(many)?,
        };
        out.push(b'\n');
        Ok(out)
    }
}
