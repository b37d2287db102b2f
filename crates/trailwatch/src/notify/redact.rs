//! Keeping the config's secrets out of what is stored and printed. A
//! receiver's error reply can echo the token in its URL or a header; every
//! error a sink reports passes through [`Redacting`] before it reaches a
//! log line, `status.json`, the dead letters or `notify status`.

use std::sync::Arc;

use async_trait::async_trait;

use super::message::Message;
use super::{SendError, Sink};

/// Shorter pieces would also match ordinary words.
const MIN_SECRET: usize = 6;

/// The texts to hide for one secret value: the value, and for a URL its
/// path segments and query values (a webhook's token is one of them).
pub fn pieces(secret: &str) -> Vec<String> {
    let mut out = vec![secret.to_string()];
    if let Ok(url) = reqwest::Url::parse(secret)
        && url.has_host()
    {
        out.extend(
            url.path_segments()
                .into_iter()
                .flatten()
                .map(str::to_string),
        );
        out.extend(url.query_pairs().map(|(_, v)| v.into_owned()));
        if let Some(p) = url.password() {
            out.push(p.to_string());
        }
    }
    out.retain(|p| p.len() >= MIN_SECRET);
    // Longest first, so a whole URL is replaced before its parts.
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out.dedup();
    out
}

/// `text` with every piece replaced by `<redacted>`.
pub fn redact(text: &str, pieces: &[String]) -> String {
    let mut out = text.to_string();
    for p in pieces {
        if out.contains(p.as_str()) {
            out = out.replace(p.as_str(), "<redacted>");
        }
    }
    out
}

/// A sink whose errors never carry its secrets.
#[derive(Debug)]
pub struct Redacting {
    pub inner: Arc<dyn Sink>,
    pub pieces: Vec<String>,
}

#[async_trait]
impl Sink for Redacting {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        self.inner.send(message).await.map_err(|mut e| {
            e.message = redact(&e.message, &self.pieces);
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_secret_and_its_token_are_hidden() {
        let p = pieces("https://hooks.example.com/services/T000/B000/XyZsecretToken?key=abcdef123");
        let t = redact(
            "HTTP 404: no such hook XyZsecretToken (key abcdef123) at https://hooks.example.com/services/T000/B000/XyZsecretToken?key=abcdef123",
            &p,
        );
        assert!(!t.contains("XyZsecretToken"), "{t}");
        assert!(!t.contains("abcdef123"), "{t}");
        assert!(t.starts_with("HTTP 404: no such hook <redacted>"), "{t}");
    }

    #[test]
    fn short_pieces_are_not_taken_for_secrets() {
        let p = pieces("https://x.example/a/b?v=1");
        assert_eq!(redact("HTTP 500: a b 1", &p), "HTTP 500: a b 1");
    }
}
