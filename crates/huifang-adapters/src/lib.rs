//! The real adapters of the application's ports (`huifang_app::ports`): what talks to outside
//! systems over the network. Each one only moves bytes and maps transport failures to
//! `PortError`; every decision about what the system said is the application's. The binary
//! uses them, and so do the tests, against servers on loopback.

use std::collections::BTreeMap;
use std::time::Duration;

use huifang_app::ports::{Courier, Failure, LogSource, Outgoing, PortError, WebhookPoster};
use huifang_app::views::{ChannelsDoc, ConsistencyProofView, GatewayDoc, SmtpDoc};
use huifang_core::outcome::Channel;
use huifang_ledger::Hash;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

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

// ----- the message channels' providers -------------------------------------------------------

/// A transport failure as a port error: timeouts, refused connections and server errors are
/// worth another attempt; a client error (4xx other than 408 and 429) is the provider refusing
/// this message for good.
fn http_failure(system: &str, status: Option<reqwest::StatusCode>, message: String) -> PortError {
    let failure = match status {
        Some(s) if s.is_client_error() && s.as_u16() != 408 && s.as_u16() != 429 => {
            Failure::Rejected
        }
        _ => Failure::Unreachable,
    };
    PortError {
        system: system.to_string(),
        message,
        failure,
    }
}

/// An HTTP gateway: SMS, WeChat template messages, or a telephony provider. Huifang's gateway
/// protocol (docs/CHANNELS.md): `POST {url}/messages` (a call: `POST {url}/calls`) with a bearer
/// token and an `Idempotency-Key` header, a JSON body, and `{"id": "…"}` in answer.
pub struct HttpGateway {
    name: &'static str,
    base: String,
    token: String,
    templates: BTreeMap<String, String>,
    client: reqwest::Client,
}

impl HttpGateway {
    pub fn new(name: &'static str, doc: &GatewayDoc) -> Result<Self, PortError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(u64::from(doc.timeout_seconds.max(1))))
            .build()
            .map_err(|e| http_failure(name, None, e.to_string()))?;
        Ok(HttpGateway {
            name,
            base: doc.url.trim_end_matches('/').to_string(),
            token: doc.token.clone(),
            templates: doc.templates.clone(),
            client,
        })
    }

    async fn send(&self, m: &Outgoing) -> Result<String, PortError> {
        let (path, body) = if m.channel == Channel::Phone {
            (
                "/calls",
                // an agent's call ("call"), or the assistant's IVR call ("assistant", whose
                // prompts the provider fetches from the IVR webhook; `text` is the first)
                serde_json::json!({
                    "to": m.to,
                    "event": m.event,
                    "task_id": m.task_id,
                    "agent": m.agent,
                    "text": m.body,
                }),
            )
        } else {
            (
                "/messages",
                serde_json::json!({
                    "to": m.to,
                    "event": m.event,
                    "template_id": self.templates.get(&m.event),
                    "text": m.body,
                    "params": m.fields,
                }),
            )
        };
        let system = format!("{} gateway", self.name);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", &m.idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| http_failure(&system, None, e.without_url().to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| http_failure(&system, None, e.without_url().to_string()))?;
        if !status.is_success() {
            let excerpt: String = text.trim().chars().take(200).collect();
            return Err(http_failure(
                &system,
                Some(status),
                format!("{status}: {excerpt}"),
            ));
        }
        #[derive(serde::Deserialize)]
        struct Accepted {
            id: String,
        }
        serde_json::from_str::<Accepted>(&text)
            .map(|a| a.id)
            .map_err(|e| PortError {
                system,
                message: format!("the answer holds no message id: {e}"),
                failure: Failure::Malformed,
            })
    }
}

/// Email over SMTP (lettre; TLS by the system's OpenSSL). The message's idempotency key is its Message-ID,
/// which is also what Huifang keeps as the provider's id: SMTP has no receipts.
pub struct SmtpCourier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpCourier {
    pub fn new(doc: &SmtpDoc) -> Result<Self, PortError> {
        let failed = |e: String| PortError {
            system: "smtp".into(),
            message: e,
            failure: Failure::Unreachable,
        };
        let builder = match doc.tls.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&doc.host)
                .map_err(|e| failed(e.to_string()))?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&doc.host)
                .map_err(|e| failed(e.to_string()))?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&doc.host),
        };
        let mut builder = builder
            .port(doc.port)
            .timeout(Some(Duration::from_secs(u64::from(
                doc.timeout_seconds.max(1),
            ))));
        if !doc.username.is_empty() {
            builder =
                builder.credentials(Credentials::new(doc.username.clone(), doc.password.clone()));
        }
        let from: Mailbox = doc
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| failed(format!("from: {e}")))?;
        Ok(SmtpCourier {
            transport: builder.build(),
            from,
        })
    }

    async fn send(&self, m: &Outgoing) -> Result<String, PortError> {
        let rejected = |e: String| PortError {
            system: "smtp".into(),
            message: e,
            failure: Failure::Rejected,
        };
        let to: Mailbox =
            m.to.parse()
                .map_err(|e: lettre::address::AddressError| rejected(format!("to: {e}")))?;
        let message_id = format!(
            "<{}@huifang>",
            m.idempotency_key.replace([' ', '<', '>'], "")
        );
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| rejected(e.to_string()))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(message_id),
            Err(e) if e.is_permanent() => Err(rejected(e.to_string())),
            Err(e) => Err(PortError {
                system: "smtp".into(),
                message: e.to_string(),
                failure: Failure::Unreachable,
            }),
        }
    }
}

/// Every configured channel's provider, by channel.
#[derive(Default)]
pub struct Couriers {
    sms: Option<HttpGateway>,
    wechat: Option<HttpGateway>,
    phone: Option<HttpGateway>,
    email: Option<SmtpCourier>,
}

impl Couriers {
    /// The providers of the channels the document configures.
    pub fn from_doc(doc: &ChannelsDoc) -> Result<Self, PortError> {
        Ok(Couriers {
            sms: doc
                .sms
                .as_ref()
                .map(|g| HttpGateway::new("sms", g))
                .transpose()?,
            wechat: doc
                .wechat
                .as_ref()
                .map(|g| HttpGateway::new("wechat", g))
                .transpose()?,
            phone: doc
                .phone
                .as_ref()
                .map(|g| HttpGateway::new("phone", g))
                .transpose()?,
            email: doc.email.as_ref().map(SmtpCourier::new).transpose()?,
        })
    }
}

impl Courier for Couriers {
    fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        for (c, set) in [
            (Channel::Sms, self.sms.is_some()),
            (Channel::Wechat, self.wechat.is_some()),
            (Channel::Email, self.email.is_some()),
            (Channel::Phone, self.phone.is_some()),
        ] {
            if set {
                out.push(c);
            }
        }
        out
    }

    async fn send(&self, m: &Outgoing) -> Result<String, PortError> {
        let gateway = match m.channel {
            Channel::Sms => self.sms.as_ref(),
            Channel::Wechat => self.wechat.as_ref(),
            Channel::Phone => self.phone.as_ref(),
            Channel::Email => {
                return match &self.email {
                    Some(smtp) => smtp.send(m).await,
                    None => Err(http_failure("email", None, "not configured".into())),
                };
            }
            Channel::Visit => None,
        };
        match gateway {
            Some(g) => g.send(m).await,
            None => Err(http_failure(
                m.channel.as_str(),
                None,
                "not configured".into(),
            )),
        }
    }
}

/// Webhook subscribers over HTTP: a JSON POST with the delivery's signed headers; whatever
/// status the subscriber answers is the application's to judge.
pub struct HttpWebhooks {
    client: reqwest::Client,
}

impl HttpWebhooks {
    /// A poster that waits at most `timeout` for each answer.
    pub fn new(timeout: Duration) -> Result<Self, PortError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| http_failure("webhooks", None, e.to_string()))?;
        Ok(HttpWebhooks { client })
    }
}

impl WebhookPoster for HttpWebhooks {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<u16, PortError> {
        let mut req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| http_failure(url, e.status(), e.to_string()))?;
        Ok(resp.status().as_u16())
    }
}
