//! The `stdout` sink: each alert as one NDJSON line (a digest is written
//! as its alerts, one per line), for pipes and log shippers.

use std::io::Write;

use async_trait::async_trait;

use super::message::Message;
use super::{SendError, Sink};

#[derive(Debug)]
pub struct Stdout;

/// The message's alerts as NDJSON lines.
pub fn ndjson(message: &Message) -> Result<Vec<u8>, SendError> {
    let mut text = Vec::new();
    for a in &message.alerts {
        serde_json::to_writer(&mut text, a).map_err(|e| SendError::permanent(e.to_string()))?;
        text.push(b'\n');
    }
    Ok(text)
}

#[async_trait]
impl Sink for Stdout {
    async fn send(&self, message: &Message) -> Result<(), SendError> {
        let text = ndjson(message)?;
        let mut out = std::io::stdout().lock();
        out.write_all(&text)
            .and_then(|()| out.flush())
            .map_err(|e| SendError::transient(format!("writing to stdout: {e}")))
    }
}
