//! A FleetLock client (the protocol of Zincati and its servers such as airlock): take a reboot
//! slot with `POST /v1/pre-reboot` before rebooting, give it back with `POST /v1/steady-state`
//! once a boot is good.
//!
//! Every request carries `fleet-lock-protocol: true` and the body
//! `{"client_params": {"node_uuid": …, "group": …}}`. 200 means yes; any other status is a no,
//! with a `{"kind": …, "value": …}` body saying why. Only a failure to get an answer at all
//! (connection refused, timeout) is retried, on the [`Backoff`] schedule.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::backoff::Backoff;

/// The two operations of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    PreReboot,
    SteadyState,
}

impl Op {
    pub fn path(self) -> &'static str {
        match self {
            Self::PreReboot => "v1/pre-reboot",
            Self::SteadyState => "v1/steady-state",
        }
    }
}

/// The server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "answer")]
pub enum Answer {
    Granted,
    /// Any status but 200; `kind`/`value` come from the error body when it has them.
    Refused {
        status: u16,
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
}

impl Answer {
    /// `kind: value` for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Granted => "granted".into(),
            Self::Refused {
                status,
                kind,
                value,
            } => match (kind, value) {
                (Some(k), Some(v)) => format!("HTTP {status}, {k}: {v}"),
                (Some(k), None) => format!("HTTP {status}, {k}"),
                _ => format!("HTTP {status}"),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    kind: Option<String>,
    value: Option<String>,
}

/// Who this node is to the lock server, and where the server is.
#[derive(Debug, Clone)]
pub struct Client {
    /// Base URL, e.g. `http://fleetlock.example:8080`.
    pub url: String,
    pub node_uuid: String,
    pub group: String,
    pub backoff: Backoff,
}

impl Client {
    fn endpoint(&self, op: Op) -> String {
        format!("{}/{}", self.url.trim_end_matches('/'), op.path())
    }

    fn body(&self) -> String {
        serde_json::json!({
            "client_params": {"node_uuid": self.node_uuid, "group": self.group}
        })
        .to_string()
    }

    /// Send `op`, retrying while the server cannot be reached; error once the deadline passed.
    pub async fn send(&self, op: Op) -> Result<Answer> {
        let url = self.endpoint(op);
        let http = reqwest::Client::builder()
            .connect_timeout(self.backoff.request_timeout)
            .user_agent(concat!("bootc-checkpoint/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let timeout = self.backoff.attempt_timeout(started.elapsed());
            let sent = http
                .post(&url)
                .header("fleet-lock-protocol", "true")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(self.body())
                .timeout(timeout)
                .send()
                .await;
            let error = match sent {
                Ok(resp) => return answer(resp).await,
                Err(e) => e,
            };
            let elapsed = started.elapsed();
            match self.backoff.next(attempt, elapsed) {
                Some(pause) => {
                    tracing::info!(
                        "FleetLock {url}: attempt {attempt} failed ({error}); retrying in {pause:?}"
                    );
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                None => bail!(
                    "FleetLock server {url} did not answer: gave up after {attempt} attempt(s) over {}s: {}",
                    elapsed.as_secs(),
                    error_chain(&error)
                ),
            }
        }
    }
}

async fn answer(resp: reqwest::Response) -> Result<Answer> {
    let status = resp.status().as_u16();
    if status == 200 {
        return Ok(Answer::Granted);
    }
    // The body is only informative; a server that sends none (or garbage) still said no.
    let body = resp.bytes().await.unwrap_or_default();
    let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
    let (kind, value) = parsed.map(|b| (b.kind, b.value)).unwrap_or_default();
    Ok(Answer::Refused {
        status,
        kind,
        value,
    })
}

/// reqwest's errors hide the cause (e.g. "Connection refused") in their source chain.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
