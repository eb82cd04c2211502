//! Fetching a graph (and its `.minisig`) over HTTP(S): bounded size, deadline and redirects;
//! conditional requests so an unchanged graph costs one request and no body.

use std::time::Duration;

use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;

use super::error::FetchError;
use super::{Fetched, Limits, Validators};

/// Signatures are tiny; anything bigger is not one.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

fn client(limits: &Limits) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(limits.max_redirects))
        .timeout(limits.deadline)
        .connect_timeout(limits.deadline.min(Duration::from_secs(10)))
        .user_agent(concat!("bootc-checkpoint/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Refused {
            source_name: "http client".into(),
            reason: format!("{e:#}"),
        })
}

fn classify(url: &str, e: reqwest::Error, limits: &Limits) -> FetchError {
    if e.is_redirect() {
        return FetchError::TooManyRedirects {
            source_name: url.to_string(),
            limit: limits.max_redirects,
        };
    }
    let reason = if e.is_timeout() {
        format!("no complete answer within {:?}", limits.deadline)
    } else {
        // reqwest's Display hides the cause (connection refused, DNS…): show the chain.
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(cause) = src {
            s.push_str(": ");
            s.push_str(&cause.to_string());
            src = cause.source();
        }
        s
    };
    FetchError::Unavailable {
        source_name: url.to_string(),
        reason,
    }
}

/// What one GET brought back.
enum Got {
    NotModified,
    Missing,
    Body(Vec<u8>, Validators),
}

/// GET `url` with `cap` bytes at most.
async fn get(
    client: &reqwest::Client,
    url: &str,
    validators: Option<&Validators>,
    cap: u64,
    limits: &Limits,
) -> Result<Got, FetchError> {
    let mut req = client.get(url);
    if let Some(v) = validators {
        if let Some(etag) = &v.etag {
            req = req.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &v.last_modified {
            req = req.header(IF_MODIFIED_SINCE, lm);
        }
    }
    let mut resp = req.send().await.map_err(|e| classify(url, e, limits))?;
    let status = resp.status();
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let got = Validators {
        etag: header(ETAG),
        last_modified: header(LAST_MODIFIED),
        manifest_digest: None,
    };
    match status {
        StatusCode::NOT_MODIFIED => return Ok(Got::NotModified),
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => return Ok(Got::Missing),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            return Err(FetchError::Unavailable {
                source_name: url.to_string(),
                reason: format!("the server answered {s}"),
            })
        }
        s => {
            return Err(FetchError::Refused {
                source_name: url.to_string(),
                reason: format!("the server answered {s}"),
            })
        }
    }
    let too_large = || FetchError::TooLarge {
        source_name: url.to_string(),
        limit: cap,
    };
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(url, e, limits))? {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Got::Body(body, got))
}

/// Fetch `url` and `url.minisig`, or learn that the cached copy is still current.
pub async fn fetch(
    url: &str,
    cached: Option<&Validators>,
    limits: &Limits,
) -> Result<Fetched, FetchError> {
    let client = client(limits)?;
    let (bytes, validators) = match get(&client, url, cached, limits.max_bytes, limits).await? {
        Got::NotModified => return Ok(Fetched::NotModified),
        Got::Missing => {
            return Err(FetchError::Refused {
                source_name: url.to_string(),
                reason: "the server answered 404 Not Found".into(),
            })
        }
        Got::Body(b, v) => (b, v),
    };
    let sig_url = format!("{url}.minisig");
    let signature = match get(&client, &sig_url, None, MAX_SIGNATURE_BYTES, limits).await? {
        Got::Body(b, _) => Some(b),
        Got::Missing | Got::NotModified => None,
    };
    Ok(Fetched::New {
        bytes,
        signature,
        validators,
    })
}
