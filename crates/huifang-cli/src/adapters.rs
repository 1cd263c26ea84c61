//! The real adapters of the application's ports (`huifang_app::ports`): what talks to outside
//! systems over the network. Each one only moves bytes and maps transport failures to
//! `PortError`; every decision about what the system said is the application's.

use std::time::Duration;

use huifang_app::ports::{Failure, LogSource, PortError};
use huifang_app::views::ConsistencyProofView;
use huifang_ledger::Hash;

/// Another Huifang server's log over HTTP (`GET /api/v1/ledger/…`).
pub struct HttpLogSource {
    base: String,
    client: reqwest::Client,
}

impl HttpLogSource {
    /// The log of the server at `base_url` (e.g. `http://127.0.0.1:8080`); every request gives
    /// up after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, PortError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| PortError {
                system: base_url.to_string(),
                message: e.to_string(),
                failure: Failure::Unreachable,
            })?;
        Ok(HttpLogSource {
            base: base_url.trim_end_matches('/').to_string(),
            client,
        })
    }

    fn failed(&self, url: &str, message: impl ToString) -> PortError {
        PortError {
            system: self.base.clone(),
            message: format!("GET {url}: {}", message.to_string()),
            failure: Failure::Unreachable,
        }
    }

    fn malformed(&self, path: &str, message: impl ToString) -> PortError {
        PortError {
            failure: Failure::Malformed,
            ..self.failed(&format!("{}{path}", self.base), message)
        }
    }

    async fn get(&self, path: &str) -> Result<String, PortError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| self.failed(&url, e))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| self.failed(&url, e))?;
        if !status.is_success() {
            return Err(self.failed(&url, format!("{status}: {}", body.trim())));
        }
        Ok(body)
    }
}

impl LogSource for HttpLogSource {
    async fn checkpoint(&self) -> Result<String, PortError> {
        self.get("/api/v1/ledger/checkpoint").await
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, PortError> {
        let path = format!("/api/v1/ledger/proof/consistency?first={first}&second={second}");
        let body = self.get(&path).await?;
        let view: ConsistencyProofView = serde_json::from_str(&body)
            .map_err(|e| self.malformed(&path, format!("not a consistency proof: {e}")))?;
        view.hashes
            .iter()
            .map(|h| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(h, &mut out)
                    .map(|()| out)
                    .map_err(|_| self.malformed(&path, "the proof holds a malformed hash"))
            })
            .collect()
    }
}
