//! Turns an input (file, stdin, any reader) into typed records, streaming.
//!
//! Gzip is detected by its magic bytes, not by the file name. Decompressed
//! size and per-record size are capped so a hostile input gives an error, not
//! an out-of-memory. A record that cannot be decoded is reported with its
//! place and skipped; after structural damage the decoder resynchronises on
//! the next plausible record start so that every recoverable record survives.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{DecodeError, Position};
use super::model::{Event, Text};
use super::scan::{ScanError, ScanState, Scanner, Span};

/// Limits that protect the decoder from hostile input.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Largest accepted record, in bytes of JSON text. CloudTrail's own
    /// limit is 256 KB; larger records are reported and skipped.
    pub max_record_bytes: usize,
    /// Largest accepted decompressed size of one input; reading stops with
    /// an error beyond it (a gzip bomb).
    pub max_decompressed_bytes: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_record_bytes: 8 * 1024 * 1024,
            max_decompressed_bytes: 16 * 1024 * 1024 * 1024,
        }
    }
}

/// A decoded record: the typed view, the record's exact JSON text, and where
/// it was found.
#[derive(Debug)]
pub struct Record<'a> {
    pub event: Event<'a>,
    /// The record's JSON text exactly as it appeared in the input.
    pub raw: &'a [u8],
    /// 0-based index among this input's records.
    pub index: u64,
    /// Byte offset of the record in the decompressed input.
    pub offset: u64,
    /// `eventTime`, parsed.
    pub time: DateTime<Utc>,
    /// `eventTime` was written without a zone (`YYYY-MM-DD HH:MM:SS`, as
    /// Panther's and Snowflake's exports write it) and read as UTC;
    /// `event.event_time` holds it rewritten as RFC 3339.
    pub zoneless_time: bool,
}

/// One step of decoding: a record, an error, or silent progress.
#[derive(Debug)]
pub enum Step<'a> {
    Record(Record<'a>),
    Error(DecodeError),
    /// Damaged bytes skipped while resynchronising; nothing to report.
    Skipped,
}

/// Counts bytes as they pass, shared with the decoder for statistics.
#[derive(Debug)]
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Marker error for the decompressed-size cap.
#[derive(Debug, thiserror::Error)]
#[error("decompressed size limit exceeded")]
struct LimitExceeded;

/// Fails reading once more than `remaining` bytes have been produced.
#[derive(Debug)]
struct Capped<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            return Err(io::Error::other(LimitExceeded));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The source of decompressed bytes: plain or gunzipped, then capped.
type Source = Capped<Box<dyn Read>>;

/// Streams records out of one input.
pub struct Decoder {
    name: String,
    scanner: Scanner<Source>,
    gzip: bool,
    limit: u64,
    max_record: usize,
    raw_bytes: Arc<AtomicU64>,
    finished: bool,
    /// Span of the last record reported as an error, for quarantine.
    last_bad: Option<(usize, usize)>,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("name", &self.name)
            .field("gzip", &self.gzip)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Open a file. The name used in errors is the path as given.
    pub fn open(path: &Path, opts: DecodeOptions) -> Result<Decoder, DecodeError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|error| DecodeError::Io {
            source_name: name.clone(),
            error,
        })?;
        Decoder::from_reader(name, file, opts)
    }

    /// Decode any reader; `name` labels errors (use `-` for stdin).
    pub fn from_reader<R: Read + 'static>(
        name: impl Into<String>,
        reader: R,
        opts: DecodeOptions,
    ) -> Result<Decoder, DecodeError> {
        let name = name.into();
        let raw_bytes = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: reader,
            count: Arc::clone(&raw_bytes),
        };
        // Most CloudTrail files are tens of KB compressed: small buffers keep
        // per-file set-up cheap (fresh pages cost a kernel page clear each).
        let mut buffered = BufReader::with_capacity(32 * 1024, counting);
        let head = buffered.fill_buf().map_err(|error| DecodeError::Io {
            source_name: name.clone(),
            error,
        })?;
        let gzip = head.starts_with(&[0x1f, 0x8b]);
        let inner: Box<dyn Read> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let source = Capped {
            inner,
            remaining: opts.max_decompressed_bytes,
        };
        Ok(Decoder {
            name,
            scanner: Scanner::new(source, opts.max_record_bytes),
            gzip,
            limit: opts.max_decompressed_bytes,
            max_record: opts.max_record_bytes,
            raw_bytes,
            finished: false,
            last_bad: None,
        })
    }

    /// The name errors use for this input.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the input was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Bytes read from the underlying input (compressed, if gzip) so far.
    pub fn input_bytes(&self) -> u64 {
        self.raw_bytes.load(Ordering::Relaxed)
    }

    /// Decompressed bytes produced so far.
    pub fn decompressed_bytes(&self) -> u64 {
        self.scanner.st.bytes_read()
    }

    /// The text of the record behind the last [`Step::Error`], when that
    /// error concerned one located record (for quarantine). Valid until the
    /// next call to [`Decoder::next_step`].
    pub fn last_error_bytes(&self) -> Option<&[u8]> {
        let (start, end) = self.last_bad?;
        self.scanner.data.get(start..end)
    }

    /// The decode loop, written once for every reader of records (stats,
    /// cat, detect, watch, ingest, the lake reader, raw-log SQL tables):
    /// every record to `on_record`, which may stop the loop with an error;
    /// every problem to `on_problem`, with the damaged record's bytes when
    /// they are known (for quarantine); either may stop the loop with an
    /// error. Returns how many problems there were.
    pub fn for_each<E>(
        &mut self,
        mut on_record: impl FnMut(&Record<'_>) -> Result<(), E>,
        mut on_problem: impl FnMut(DecodeError, Option<&[u8]>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let mut problems = 0;
        loop {
            let error = match self.next_step() {
                None => return Ok(problems),
                Some(Step::Skipped) => continue,
                Some(Step::Record(r)) => {
                    on_record(&r)?;
                    continue;
                }
                Some(Step::Error(e)) => e,
            };
            problems += 1;
            on_problem(error, self.last_error_bytes())?;
        }
    }

    /// The next step, or `None` at the end of the input.
    ///
    /// This is a lending iterator: the record borrows the decoder's buffer
    /// until the next call.
    pub fn next_step(&mut self) -> Option<Step<'_>> {
        if self.finished {
            return None;
        }
        self.last_bad = None;
        let span = match self.scanner.next_span() {
            None => {
                self.finished = true;
                return None;
            }
            Some(Err(e)) => return Some(Step::Error(self.scan_error(e))),
            Some(Ok(span)) => span,
        };
        let bytes = &self.scanner.data[span.start..span.end];
        let failure = match parse_record(bytes) {
            Ok((event, (time, zoneless_time))) if !span.unterminated => {
                return Some(Step::Record(Record {
                    event,
                    raw: bytes,
                    index: span.index,
                    offset: span.offset,
                    time,
                    zoneless_time,
                }));
            }
            Ok(_) => Failure::Eof,
            Err(f) => f,
        };
        // Only disjoint fields from here on: `bytes` still borrows `data`.
        self.last_bad = Some((span.start, span.end));
        Some(
            match handle_failure(&mut self.scanner.st, &self.name, span, failure) {
                Some(error) => Step::Error(error),
                None => Step::Skipped,
            },
        )
    }
}

/// Report a record that failed to decode, and decide where scanning goes on.
/// `None` means the failure was a resynchronisation guess and is not reported.
fn handle_failure<R>(
    st: &mut ScanState<R>,
    name: &str,
    span: Span,
    failure: Failure,
) -> Option<DecodeError> {
    let at = |rel: usize| Position {
        record: Some(span.index),
        offset: span.offset + rel as u64,
    };
    if span.resynced {
        // A guess at a record start that did not pan out: look further.
        st.resync_after(span.offset + 1);
        return None;
    }
    let error = match failure {
        Failure::Eof => DecodeError::Truncated {
            source_name: name.to_string(),
            at: at(0),
        },
        Failure::Syntax { rel, message } => {
            // The damage may have hidden the boundary of the following
            // records: search again from where the damage was seen.
            st.resync_after(span.offset + rel as u64);
            DecodeError::Syntax {
                source_name: name.to_string(),
                at: at(rel),
                message,
            }
        }
        Failure::Data { message } => DecodeError::Record {
            source_name: name.to_string(),
            at: at(0),
            message,
        },
    };
    Some(error)
}

impl Decoder {
    fn scan_error(&self, e: ScanError) -> DecodeError {
        let source_name = self.name.clone();
        match e {
            ScanError::Io { offset, error } => {
                if error
                    .get_ref()
                    .is_some_and(|inner| inner.is::<LimitExceeded>())
                {
                    DecodeError::DecompressedTooLarge {
                        source_name,
                        limit: self.limit,
                    }
                } else if self.gzip {
                    DecodeError::Gzip {
                        source_name,
                        offset,
                        error,
                    }
                } else {
                    DecodeError::Io { source_name, error }
                }
            }
            ScanError::Empty => DecodeError::Empty { source_name },
            ScanError::NullRecords { offset } => DecodeError::NullRecords {
                source_name,
                offset,
            },
            ScanError::Syntax {
                offset,
                index,
                message,
            } => DecodeError::Syntax {
                source_name,
                at: Position {
                    record: index,
                    offset,
                },
                message,
            },
            ScanError::TooLarge { offset, index } => DecodeError::RecordTooLarge {
                source_name,
                at: Position {
                    record: Some(index),
                    offset,
                },
                limit: self.max_record,
            },
        }
    }
}

/// Why a record's bytes did not decode.
#[derive(Debug)]
enum Failure {
    /// The JSON text ended early.
    Eof,
    /// Malformed JSON at byte `rel` of the record.
    Syntax { rel: usize, message: String },
    /// Well-formed JSON that is not a valid record.
    Data { message: String },
}

/// EventBridge delivers CloudTrail records wrapped in an envelope.
#[derive(Deserialize)]
struct EventBridgeEnvelope<'a> {
    #[serde(rename = "detail-type")]
    _detail_type: &'a RawValue,
    #[serde(borrow)]
    detail: &'a RawValue,
}

fn parse_record(bytes: &[u8]) -> Result<(Event<'_>, (DateTime<Utc>, bool)), Failure> {
    // Validate UTF-8 once for the whole record: `from_str` then skips the
    // per-string check `from_slice` would make (measurably faster).
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(utf8) => {
            return Err(Failure::Syntax {
                rel: utf8.valid_up_to(),
                message: format!("invalid UTF-8 at byte {} of the record", utf8.valid_up_to()),
            });
        }
    };
    let event = match serde_json::from_str::<Event<'_>>(text) {
        Ok(event) => event,
        Err(e) => match unwrap_eventbridge(bytes) {
            Some(event) => event,
            None => return Err(classify(bytes, &e)),
        },
    };
    validate(event)
}

fn unwrap_eventbridge(bytes: &[u8]) -> Option<Event<'_>> {
    memchr::memmem::find(bytes, b"\"detail-type\"")?;
    let envelope: EventBridgeEnvelope<'_> = serde_json::from_slice(bytes).ok()?;
    serde_json::from_str(envelope.detail.get()).ok()
}

fn validate(event: Event<'_>) -> Result<(Event<'_>, (DateTime<Utc>, bool)), Failure> {
    match event.version() {
        Some((1, _)) => {}
        _ => {
            return Err(Failure::Data {
                message: format!(
                    "unsupported eventVersion {:?} (major version 1 expected)",
                    event.event_version.as_str()
                ),
            });
        }
    }
    if let Some(time) = parse_event_time(&event.event_time) {
        return Ok((event, (time, false)));
    }
    let Some(time) = parse_zoneless_time(&event.event_time) else {
        return Err(Failure::Data {
            message: format!(
                "invalid eventTime {:?}: expected ISO-8601 such as 2024-05-01T12:00:00Z",
                event.event_time.as_str()
            ),
        });
    };
    let mut event = event;
    event.event_time = Text(std::borrow::Cow::Owned(
        time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    ));
    Ok((event, (time, true)))
}

/// `eventTime` as other tools export it: `YYYY-MM-DD HH:MM:SS[.f…]` (up to
/// nine fraction digits) with no zone, which those tools write in UTC.
/// Anything else (a `T` without a zone, a local offset spelled some other
/// way) stays an error: its meaning is not certain.
pub fn parse_zoneless_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    // Exactly `YYYY-MM-DD HH:MM:SS`, then optionally `.` and 1–9 digits:
    // chrono's `%.f` alone would also take other shapes.
    if b.len() < 19 || b[10] != b' ' {
        return None;
    }
    if b.len() > 19 {
        let frac = &b[20..];
        if b[19] != b'.'
            || frac.is_empty()
            || frac.len() > 9
            || !frac.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

/// Parse `eventTime`: RFC 3339 (CloudTrail writes `YYYY-MM-DDTHH:MM:SSZ`).
pub fn parse_event_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn classify(bytes: &[u8], e: &serde_json::Error) -> Failure {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => Failure::Eof,
        Category::Syntax | Category::Io => {
            if let Err(utf8) = std::str::from_utf8(bytes) {
                return Failure::Syntax {
                    rel: utf8.valid_up_to(),
                    message: format!("invalid UTF-8 at byte {} of the record", utf8.valid_up_to()),
                };
            }
            Failure::Syntax {
                rel: byte_of(bytes, e.line(), e.column()),
                message: strip_position(&e.to_string()),
            }
        }
        Category::Data => Failure::Data {
            message: describe_data_error(bytes),
        },
    }
}

/// Re-parse a failed record to learn which field was wrong. Only runs on the
/// error path, so the fast path pays nothing for it.
fn describe_data_error(bytes: &[u8]) -> String {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, Event<'_>>(&mut de) {
        Ok(_) => "invalid record".into(),
        Err(err) => {
            let path = err.path().to_string();
            let inner = strip_position(&err.into_inner().to_string());
            if path.is_empty() || path == "." {
                inner
            } else {
                format!("{inner} at {path}")
            }
        }
    }
}

/// serde_json appends " at line L column C"; we report byte offsets instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Byte index of a 1-based (line, column) position in `bytes`.
fn byte_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let mut line_start = 0;
    for _ in 1..line {
        match memchr::memchr(b'\n', &bytes[line_start..]) {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    (line_start + column.saturating_sub(1)).min(bytes.len())
}
