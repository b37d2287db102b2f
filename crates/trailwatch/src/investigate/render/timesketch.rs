//! Timesketch's JSONL import: one object per event with `message`,
//! `datetime` (ISO 8601) and `timestamp_desc`, plus the event's fields.

use std::io::Write;

use anyhow::Result;
use serde_json::{Value, json};
use trailwatch_core::investigate::Report;

pub fn write(report: &Report, out: &mut dyn Write) -> Result<()> {
    for e in &report.events {
        let who = e.principal.as_deref().unwrap_or("?");
        let mut message = format!("{} by {who}", e.event_name);
        if let Some(ip) = &e.source_ip {
            message.push_str(&format!(" from {ip}"));
        }
        if let Some(r) = &e.resource {
            message.push_str(&format!(" on {r}"));
        }
        if let Some(code) = &e.error_code {
            message.push_str(&format!(" ({code})"));
        }
        let mut line = json!({
            "message": message,
            "datetime": e.event_time,
            "timestamp_desc": "Event Time",
            "data_type": "aws:cloudtrail:event",
        });
        if let (Value::Object(m), Value::Object(fields)) = (&mut line, serde_json::to_value(e)?) {
            for (k, v) in fields {
                if !v.is_null() {
                    m.entry(k).or_insert(v);
                }
            }
        }
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
