//! Push ingestion: CloudTrail events POSTed to the server seconds after
//! they happen, before their log files land.
//!
//! - `POST /ingest/cloudtrail`: a `{"Records":[...]}` body (or one record,
//!   or NDJSON), gzip allowed;
//! - `POST /ingest/eventbridge`: EventBridge events whose `detail-type` is
//!   a CloudTrail one ("AWS API Call via CloudTrail", "AWS Console Sign In
//!   via CloudTrail", …), one or a JSON array, as an API destination sends
//!   them; the `detail` is the record;
//! - `POST /ingest/firehose`: Amazon Data Firehose's HTTP endpoint
//!   delivery (base64 `records[].data`, each an EventBridge event, a
//!   CloudTrail record or batch, or a CloudWatch Logs subscription batch,
//!   gzip allowed), with `X-Amz-Firehose-Access-Key` checked as the token
//!   and `requestId`/`timestamp` in every reply.
//!
//! A request is acknowledged only once its records are durable: written
//! as one file in the spool's `pending/` folder, synced, renamed into
//! place, the folder synced. The [`worker`](super::worker) then runs them
//! through detection at once and ingests them into the lake in batches,
//! with the lake's dedup by eventID, so an event also read later from the
//! S3 trail is stored once (and its alerts, whose ids are stable, filed
//! once).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::App;
use super::error::ApiError;

/// Decompressed bytes one request may grow to, all its records together
/// (a gzip bomb stops here, however many records carry it; the JSON tree
/// of a body takes a few times its size in memory).
pub const MAX_INFLATED: u64 = 64 << 20;

/// The largest record taken: what the decoder reads (larger records are
/// refused, so that nothing acknowledged is later dropped).
fn max_record_bytes() -> usize {
    trailwatch_core::event::DecodeOptions::default().max_record_bytes
}

/// The detail-types EventBridge gives CloudTrail records.
fn is_cloudtrail_detail_type(t: &str) -> bool {
    t.ends_with("via CloudTrail")
}

/// `bytes`, gunzipped when they are gzip, taking what they inflate to
/// from `budget` (the request's [`MAX_INFLATED`]).
pub fn inflate(bytes: &[u8], budget: &mut u64) -> Result<Vec<u8>, String> {
    let over = || {
        format!(
            "the request inflates past {} MiB, the most one request may hold",
            MAX_INFLATED >> 20
        )
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        *budget = budget.checked_sub(bytes.len() as u64).ok_or_else(over)?;
        return Ok(bytes.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(*budget + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the gzip body cannot be read: {e}"))?;
    *budget = budget.checked_sub(out.len() as u64).ok_or_else(over)?;
    Ok(out)
}

/// The JSON values in `text`: one document, or one per line.
fn documents(text: &[u8]) -> Result<Vec<Value>, String> {
    match serde_json::from_slice::<Value>(text) {
        Ok(v) => Ok(vec![v]),
        Err(whole) => {
            let mut out = Vec::new();
            for (i, line) in text.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                out.push(serde_json::from_slice(line).map_err(|e| {
                    if i == 0 {
                        format!("not JSON: {whole}")
                    } else {
                        format!("line {}: not JSON: {e}", i + 1)
                    }
                })?);
            }
            Ok(out)
        }
    }
}

/// What one pushed document holds.
#[derive(Debug, Default)]
pub struct Found {
    pub records: Vec<Value>,
    /// EventBridge events of other kinds, skipped.
    pub ignored: usize,
}

impl Found {
    /// Take the CloudTrail records out of `v`, whatever wraps them:
    /// `{"Records":[...]}`, an EventBridge event, a CloudWatch Logs
    /// subscription batch, an array of any of these, or a record.
    fn take(&mut self, v: Value) {
        match v {
            Value::Array(items) => items.into_iter().for_each(|i| self.take(i)),
            Value::Object(mut m) => {
                if let Some(Value::Array(records)) = m.remove("Records") {
                    self.records.extend(records);
                } else if let Some(t) = m.get("detail-type").and_then(Value::as_str) {
                    let cloudtrail = is_cloudtrail_detail_type(t);
                    match m.remove("detail") {
                        Some(d @ Value::Object(_)) if cloudtrail => {
                            self.records.push(d);
                        }
                        _ => self.ignored += 1,
                    }
                } else if let Some(Value::Array(events)) = m.remove("logEvents") {
                    for e in events {
                        if let Some(msg) = e.get("message").and_then(Value::as_str)
                            && let Ok(rec) = serde_json::from_str::<Value>(msg)
                        {
                            self.records.push(rec);
                        }
                    }
                } else {
                    self.records.push(Value::Object(m));
                }
            }
            _ => self.ignored += 1,
        }
    }
}

/// The records of a `/ingest/cloudtrail` or `/ingest/eventbridge` body.
pub fn parse_body(body: &[u8]) -> Result<Found, String> {
    let mut budget = MAX_INFLATED;
    let text = inflate(body, &mut budget)?;
    let mut found = Found::default();
    for d in documents(&text)? {
        found.take(d);
    }
    Ok(found)
}

/// The request id and records of a Firehose delivery.
pub fn parse_firehose(body: &[u8]) -> Result<(String, Found), (String, String)> {
    let mut budget = MAX_INFLATED;
    let text = inflate(body, &mut budget).map_err(|e| (String::new(), e))?;
    let v: Value = serde_json::from_slice(&text)
        .map_err(|e| (String::new(), format!("not a Firehose request: {e}")))?;
    let request_id = v
        .get("requestId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(records) = v.get("records").and_then(Value::as_array) else {
        return Err((request_id, "a Firehose request has records".into()));
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut found = Found::default();
    for (i, r) in records.iter().enumerate() {
        let data = r.get("data").and_then(Value::as_str).unwrap_or_default();
        let bytes = b64
            .decode(data)
            .map_err(|e| (request_id.clone(), format!("record {i}: not base64: {e}")))?;
        let text = inflate(&bytes, &mut budget)
            .map_err(|e| (request_id.clone(), format!("record {i}: {e}")))?;
        for d in documents(&text).map_err(|e| (request_id.clone(), format!("record {i}: {e}")))? {
            found.take(d);
        }
    }
    Ok((request_id, found))
}

/// The spool: pushed records, durable before they are acknowledged.
#[derive(Debug)]
pub struct Spool {
    /// Written, not yet through detection.
    pub pending: PathBuf,
    /// Through detection, not yet in the lake.
    pub detected: PathBuf,
    seq: AtomicU64,
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl Spool {
    pub fn open(state: &Path) -> std::io::Result<Spool> {
        let pending = state.join("spool").join("pending");
        let detected = state.join("spool").join("detected");
        crate::private::create_dir_all(&pending)?;
        crate::private::create_dir_all(&detected)?;
        Ok(Spool {
            pending,
            detected,
            seq: AtomicU64::new(0),
        })
    }

    /// How many spool files wait (for detection, or for the lake).
    pub fn depth(&self) -> usize {
        let count = |d: &Path| {
            std::fs::read_dir(d)
                .map(|rd| rd.filter(|e| e.is_ok()).count())
                .unwrap_or(0)
        };
        count(&self.pending) + count(&self.detected)
    }

    /// Write `records` (each one record's JSON text) as one
    /// `{"Records":[...]}` file in `pending/`, durably; its path.
    pub fn write(&self, records: &[String]) -> std::io::Result<PathBuf> {
        let name = format!(
            "push-{}-{}-{:08x}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
            self.seq.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let tmp = self.pending.join(format!(".{name}.partial"));
        let path = self.pending.join(&name);
        {
            let mut f = std::io::BufWriter::new(crate::private::create(&tmp)?);
            f.write_all(b"{\"Records\":[")?;
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    f.write_all(b",")?;
                }
                f.write_all(r.as_bytes())?;
            }
            f.write_all(b"]}")?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.pending)?;
        Ok(path)
    }
}

/// Each record's JSON text, or why the push is refused: a record larger
/// than the decoder reads would be acknowledged and then lost, so the
/// whole push is refused and its sender keeps it.
fn record_texts(records: &[Value]) -> Result<Vec<String>, ApiError> {
    let max = max_record_bytes();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let text = r.to_string();
            if text.len() > max {
                return Err(ApiError::TooLarge(format!(
                    "record {i} is {} bytes; a record may be at most {max} bytes. Nothing of this request was stored",
                    text.len()
                )));
            }
            Ok(text)
        })
        .collect()
}

/// Spool the records durably and hand them to detection; how many were
/// stored. A push is stored whole or not at all.
async fn accept(app: &Arc<App>, found: Found) -> Result<usize, ApiError> {
    let n = found.records.len();
    if n > 0 {
        let texts = record_texts(&found.records)?;
        drop(found);
        let spool = app.spool.clone();
        let path = tokio::task::spawn_blocking(move || spool.write(&texts))
            .await
            .map_err(|e| ApiError::Internal(format!("storing pushed records: {e}")))?
            .map_err(|e| ApiError::Unavailable(format!("the records could not be stored: {e}")))?;
        app.metrics
            .pushed_events
            .fetch_add(n as u64, Ordering::Relaxed);
        // Stored: detection takes it from here (and from the spool after a
        // restart, if the worker is gone).
        if app
            .to_worker
            .send(crate::pipeline::follow::Wake::Pushed(path))
            .is_err()
        {
            tracing::warn!("the detection worker has stopped; the spool keeps the records");
        }
    }
    Ok(n)
}

/// `POST /ingest/cloudtrail` and `POST /ingest/eventbridge`.
pub async fn records(State(app): State<Arc<App>>, body: Bytes) -> Response {
    app.metrics
        .pushed_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    let found = match parse_body(&body) {
        Ok(f) => f,
        Err(e) => return ApiError::BadRequest(e).into_response(),
    };
    let ignored = found.ignored;
    match accept(&app, found).await {
        Ok(n) => Json(json!({ "accepted": n, "ignored": ignored })).into_response(),
        Err(e) => e.into_response(),
    }
}

fn firehose_reply(status: StatusCode, request_id: &str, message: Option<String>) -> Response {
    let mut body = json!({
        "requestId": request_id,
        "timestamp": chrono::Utc::now().timestamp_millis(),
    });
    if let Some(m) = message {
        body["errorMessage"] = json!(m);
    }
    (status, Json(body)).into_response()
}

/// `POST /ingest/firehose`: Firehose's HTTP endpoint delivery contract.
pub async fn firehose(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let header_id = headers
        .get("x-amz-firehose-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let key = headers
        .get("x-amz-firehose-access-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !app.access.is_token(key) {
        // Counted and throttled by the router's guard, as a 401.
        return firehose_reply(
            StatusCode::UNAUTHORIZED,
            &header_id,
            Some("X-Amz-Firehose-Access-Key is missing or wrong".into()),
        );
    }
    app.metrics
        .pushed_bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    let (request_id, found) = match parse_firehose(&body) {
        Ok(x) => x,
        Err((id, e)) => {
            let id = if id.is_empty() { header_id } else { id };
            return firehose_reply(StatusCode::BAD_REQUEST, &id, Some(e));
        }
    };
    match accept(&app, found).await {
        Ok(_) => firehose_reply(StatusCode::OK, &request_id, None),
        // Firehose retries what is not a 200, then keeps the request in
        // its backup bucket: nothing is lost.
        Err(e @ ApiError::TooLarge(_)) => {
            firehose_reply(e.status(), &request_id, Some(e.to_string()))
        }
        Err(_) => firehose_reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &request_id,
            Some("the records could not be stored; retry".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"eventVersion":"1.08","eventID":"e1","eventName":"StopLogging"}"#;

    #[test]
    fn every_wrapping_gives_its_records() {
        let bodies = [
            format!(r#"{{"Records":[{REC},{REC}]}}"#),
            format!("{REC}\n{REC}\n"),
            format!(
                r#"[{{"detail-type":"AWS API Call via CloudTrail","detail":{REC}}},{{"detail-type":"AWS Console Sign In via CloudTrail","detail":{REC}}},{{"detail-type":"EC2 Instance State-change Notification","detail":{{}}}}]"#
            ),
        ];
        let counts: Vec<(usize, usize)> = bodies
            .iter()
            .map(|b| {
                let f = parse_body(b.as_bytes()).expect("parses");
                (f.records.len(), f.ignored)
            })
            .collect();
        assert_eq!(counts, [(2, 0), (2, 0), (2, 1)]);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(bodies[0].as_bytes()).expect("gzip");
            e.finish().expect("gzip")
        };
        assert_eq!(parse_body(&gz).expect("gzip body").records.len(), 2);
        assert!(parse_body(b"{not json").is_err());
    }

    #[test]
    fn firehose_records_are_base64_of_any_wrapping() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let cwl =
            json!({"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "message": REC}]});
        let gz_cwl = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(cwl.to_string().as_bytes()).expect("gzip");
            e.finish().expect("gzip")
        };
        let body = json!({
            "requestId": "req-1",
            "timestamp": 1,
            "records": [
                {"data": b64.encode(format!(r#"{{"detail-type":"AWS API Call via CloudTrail","detail":{REC}}}"#))},
                {"data": b64.encode(&gz_cwl)},
                {"data": b64.encode(REC)},
            ]
        });
        let (id, found) = parse_firehose(body.to_string().as_bytes()).expect("parses");
        assert_eq!(id, "req-1");
        assert_eq!(found.records.len(), 3);
        let bad = json!({"requestId": "req-2", "records": [{"data": "%%%"}]});
        let (id, why) = parse_firehose(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(id, "req-2");
        assert!(why.contains("base64"), "{why}");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..(MAX_INFLATED >> 20) + 1 {
            e.write_all(&zeros).expect("gzip");
        }
        let bomb = e.finish().expect("gzip");
        assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
        assert!(
            inflate(&bomb, &mut MAX_INFLATED.clone())
                .unwrap_err()
                .contains("inflates past")
        );
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).expect("gzip");
        e.finish().expect("gzip")
    }

    /// The inflation limit is the request's, not each record's: many
    /// small bombs are one big one.
    #[test]
    fn a_firehose_request_inflates_within_one_budget_for_all_its_records() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let each = vec![b' '; 8 << 20];
        let bomb = b64.encode(gzip(&each));
        let records: Vec<Value> = (0..9).map(|_| json!({ "data": bomb })).collect();
        let body = json!({"requestId": "req-3", "records": records}).to_string();
        assert!(body.len() < 1 << 20, "the request itself is small");
        let (id, why) = parse_firehose(body.as_bytes()).unwrap_err();
        assert_eq!(id, "req-3");
        assert!(why.contains("record 7") && why.contains("64 MiB"), "{why}");
        // Under the budget, the same records are read.
        let body = json!({"requestId": "req-4", "records": &records[..7]}).to_string();
        assert!(parse_firehose(body.as_bytes()).is_ok());
        // A plain body and its gzip count alike.
        let mut budget = 10;
        assert!(inflate(b"0123456789", &mut budget).is_ok());
        assert_eq!(budget, 0);
        assert!(inflate(&gzip(b"x"), &mut budget).is_err());
    }

    /// A record the decoder would refuse is refused at the door, with the
    /// whole push: nothing acknowledged is dropped later.
    #[test]
    fn a_record_over_the_record_limit_refuses_the_push() {
        let max = max_record_bytes();
        let fits = json!({ "eventID": "a", "requestParameters": { "x": "y".repeat(max - 100) } });
        let over = json!({ "eventID": "b", "requestParameters": { "x": "y".repeat(max) } });
        assert!(record_texts(std::slice::from_ref(&fits)).is_ok());
        let err = record_texts(&[fits, over]).unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.to_string().contains("record 1 is"), "{err}");
    }
}
