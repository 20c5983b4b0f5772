//! Whether an endpoint is answering at all. After a few connection failures or timeouts in a
//! row (with no reply of any kind between them), the endpoint is taken as down for the rest of
//! the run: its remaining requests fail at once with one message naming the URL, instead of
//! each waiting out its own retries (with a hung server and the default timeout and attempts,
//! that was about 48 minutes for a run of 32 answers). Any HTTP reply, even an error status,
//! shows the server is there and resets the count. A later run tries again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use super::ClientError;

/// Connection failures or timeouts in a row that make an endpoint down.
pub const DOWN_AFTER: u32 = 5;

/// The health of one endpoint.
#[derive(Debug, Default)]
pub struct Health {
    in_a_row: AtomicU32,
    down: OnceLock<String>,
}

impl Health {
    /// Why the endpoint is down, once it is.
    pub fn down(&self) -> Option<&str> {
        self.down.get().map(String::as_str)
    }

    /// Counts the outcome of one attempt on `url`.
    pub fn observe<T>(&self, url: &str, result: &Result<T, ClientError>) {
        match result {
            Err(e @ (ClientError::Connect(_) | ClientError::Timeout(_))) => {
                let n = self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= DOWN_AFTER {
                    let _ = self.down.set(format!(
                        "endpoint {url} is not answering ({n} connection failures or timeouts in a row, the last: {e}); its remaining requests were not sent"
                    ));
                }
            }
            _ => self.in_a_row.store(0, Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_failures_in_a_row_and_any_reply_resets_the_count() {
        let h = Health::default();
        let refused: Result<(), ClientError> = Err(ClientError::Connect("refused".into()));
        let status: Result<(), ClientError> = Err(ClientError::Status {
            status: 503,
            message: "busy".into(),
            retry_after: None,
        });
        for _ in 0..DOWN_AFTER - 1 {
            h.observe("http://x/v1", &refused);
        }
        h.observe("http://x/v1", &status);
        for _ in 0..DOWN_AFTER - 1 {
            h.observe("http://x/v1", &refused);
        }
        assert_eq!(h.down(), None, "a 503 showed the server is there");
        h.observe("http://x/v1", &refused);
        assert!(
            h.down()
                .unwrap()
                .starts_with("endpoint http://x/v1 is not answering (5")
        );
    }
}
