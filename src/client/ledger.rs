//! The books of one client: what it spent, by account (see [`crate::records::spend`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::records::spend::{Account, Spend};
use crate::types::Usage;

/// The books of one client.
#[derive(Debug, Default)]
pub struct Ledger {
    rows: Mutex<BTreeMap<Account, Spend>>,
}

impl Ledger {
    /// Books one reply to `account` (`usage` `None`: served from the cache).
    pub fn book(&self, account: &Account, usage: Option<Usage>) {
        self.book_as(account, usage, false, false);
    }

    /// Books one reply, `batched` when it came through the Batch API, `estimated` when its
    /// tokens are an estimate (the server sent no usage).
    pub fn book_as(&self, account: &Account, usage: Option<Usage>, batched: bool, estimated: bool) {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        let row = rows.entry(account.clone()).or_default();
        // A batch's tokens are all at the batch share: its cached ones are not counted apart.
        row.add(usage.map(|u| Usage {
            cached_prompt_tokens: if batched { 0 } else { u.cached_prompt_tokens },
            ..u
        }));
        if estimated && usage.is_some() {
            row.usage_estimated += 1;
        }
        if let (true, Some(u)) = (batched, usage) {
            row.batch_prompt_tokens += u.prompt_tokens;
            row.batch_completion_tokens += u.completion_tokens;
        }
    }

    /// Every row so far.
    pub fn rows(&self) -> BTreeMap<Account, Spend> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
