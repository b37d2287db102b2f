//! The `webhook` sink: the message's JSON envelope (`{"version":1,
//! "kind":…,"alert_ids":[…],"alerts":[…]}`) POSTed to a URL, with custom
//! headers and, given a shared secret, an `X-Trailwatch-Signature:
//! sha256=<hex>` header: HMAC-SHA256 of the exact body bytes, which the
//! receiver recomputes to know the message is ours and unaltered.
//! `Idempotency-Key` carries the alert id (or the digest's key). With
//! `format = "ocsf"` the body is a JSON array of OCSF Detection Findings.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::config::{Payload, Secret};
use super::message::Message;
use super::{SendError, Sink, http};

#[derive(Debug)]
pub struct Webhook {
    url: Secret,
    format: Payload,
    headers: HeaderMap,
    secret: Option<Secret>,
    client: reqwest::Client,
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl Webhook {
    pub fn new(
        url: Secret,
        format: Payload,
        headers: BTreeMap<String, Secret>,
        secret: Option<Secret>,
        timeout: Duration,
    ) -> Result<Webhook> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::try_from(k.as_str())
                .with_context(|| format!("webhook header name {k:?}"))?;
            let mut value = HeaderValue::try_from(v.expose())
                .with_context(|| format!("webhook header {k:?} has an invalid value"))?;
            value.set_sensitive(true);
            map.insert(name, value);
        }
        Ok(Webhook {
            url,
            format,
            headers: map,
            secret,
            client: http::client(timeout)?,
        })
    }
}

#[async_trait]
impl Sink for Webhook {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let body = match self.format {
            Payload::Trailwatch => message.envelope_json(),
            Payload::Ocsf => message.ocsf_json(false),
        };
        let mut headers = self.headers.clone();
        if let Some(secret) = &self.secret {
            let sig = signature(secret.expose().as_bytes(), &body);
            if let Ok(v) = HeaderValue::try_from(sig) {
                headers.insert("x-trailwatch-signature", v);
            }
        }
        if let Ok(v) = HeaderValue::try_from(message.key()) {
            headers.insert("idempotency-key", v);
        }
        http::post_json(&self.client, self.url.expose(), body, headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
