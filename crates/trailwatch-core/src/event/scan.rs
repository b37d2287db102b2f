//! Finds the byte span of each CloudTrail record in a stream of JSON text,
//! without parsing the records themselves.
//!
//! Parsing every record separately (rather than the whole file as one JSON
//! document) is what lets a bad record be reported and skipped while its
//! neighbours survive, and lets a 2 GB file stream through a bounded buffer.
//! The scanner understands the containers CloudTrail data arrives in:
//! `{"Records":[…]}` files, top-level arrays, and streams of bare records
//! (NDJSON, concatenated JSON, a single object). It tracks only strings and
//! nesting depth; the records' own syntax is left to serde.

use std::io::{self, Read};

use memchr::memchr2;

const CHUNK: usize = 64 * 1024;

/// A record (or what should have been one) located in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    /// Absolute offset of `start` in the decompressed stream.
    pub offset: u64,
    /// 0-based index among this input's records.
    pub index: u64,
    /// The input ended before the value closed; the span holds what there was.
    pub unterminated: bool,
    /// Found by resynchronising after damage, not by following the structure.
    pub resynced: bool,
}

/// Structural problems found while scanning.
#[derive(Debug)]
pub(crate) enum ScanError {
    Io {
        offset: u64,
        error: io::Error,
    },
    Empty,
    NullRecords {
        offset: u64,
    },
    Syntax {
        offset: u64,
        index: Option<u64>,
        message: String,
    },
    TooLarge {
        offset: u64,
        index: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    TopLevel,
    /// Inside an array of records; `wrapper` when it is a `Records` array.
    InArray {
        wrapper: bool,
        first: bool,
    },
    /// After the `Records` array, inside the wrapper object.
    WrapperTail,
    Done,
}

/// Everything but the buffer, so that a record borrowed from the buffer can
/// be returned while the position is still adjusted (disjoint fields).
#[derive(Debug)]
pub(crate) struct ScanState<R> {
    reader: R,
    pos: usize,
    len: usize,
    /// Absolute offset of `data[0]`.
    base: u64,
    eof: bool,
    mode: Mode,
    resync: bool,
    next_index: u64,
    seen_value: bool,
    max_record: usize,
}

#[derive(Debug)]
pub(crate) struct Scanner<R> {
    pub data: Vec<u8>,
    pub st: ScanState<R>,
}

impl<R> ScanState<R> {
    /// Restart the search for a record at absolute offset `abs`, which must
    /// still be in the buffer (it is, right after a span was returned).
    pub fn resync_after(&mut self, abs: u64) {
        let rel = abs.saturating_sub(self.base) as usize;
        self.pos = rel.min(self.len);
        self.resync = true;
        if self.mode == Mode::Done {
            self.mode = Mode::TopLevel;
        }
    }

    /// Decompressed bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.base + self.len as u64
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

impl<R: Read> Scanner<R> {
    pub fn new(reader: R, max_record: usize) -> Self {
        Scanner {
            data: vec![0; CHUNK],
            st: ScanState {
                reader,
                pos: 0,
                len: 0,
                base: 0,
                eof: false,
                mode: Mode::TopLevel,
                resync: false,
                next_index: 0,
                seen_value: false,
                max_record,
            },
        }
    }

    /// Drop consumed bytes before `keep`, returning how far data moved.
    fn compact(&mut self, keep: usize) -> usize {
        if keep == 0 {
            return 0;
        }
        self.data.copy_within(keep..self.st.len, 0);
        self.st.len -= keep;
        self.st.pos = self.st.pos.saturating_sub(keep);
        self.st.base += keep as u64;
        keep
    }

    /// Read more input after `len`. False at end of input.
    fn read_more(&mut self) -> Result<bool, ScanError> {
        if self.st.eof {
            return Ok(false);
        }
        if self.st.len == self.data.len() {
            let grown = (self.data.len() * 2).max(CHUNK);
            self.data.resize(grown, 0);
        }
        loop {
            match self.st.reader.read(&mut self.data[self.st.len..]) {
                Ok(0) => {
                    self.st.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.st.len += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    self.st.eof = true;
                    self.st.mode = Mode::Done;
                    return Err(ScanError::Io {
                        offset: self.st.base + self.st.len as u64,
                        error,
                    });
                }
            }
        }
    }

    /// Skip whitespace; the next byte without consuming it, or None at end.
    fn peek_byte(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            while self.st.pos < self.st.len {
                let b = self.data[self.st.pos];
                if !is_ws(b) {
                    return Ok(Some(b));
                }
                self.st.pos += 1;
            }
            let pos = self.st.pos;
            self.compact(pos);
            if !self.read_more()? {
                return Ok(None);
            }
        }
    }

    /// Make at least `want` bytes available from `pos`, if the input has them.
    fn ensure(&mut self, want: usize) -> Result<(), ScanError> {
        while self.st.len - self.st.pos < want {
            let pos = self.st.pos;
            self.compact(pos);
            if !self.read_more()? {
                break;
            }
        }
        Ok(())
    }

    fn abs(&self, rel: usize) -> u64 {
        self.st.base + rel as u64
    }

    /// The next record span, or a structural error. `None` when done.
    pub fn next_span(&mut self) -> Option<Result<Span, ScanError>> {
        loop {
            let step = match self.st.mode {
                Mode::Done => return None,
                _ if self.st.resync => self.resync_step(),
                Mode::TopLevel => self.top_level_step(),
                Mode::InArray { wrapper, first } => self.array_step(wrapper, first),
                Mode::WrapperTail => self.wrapper_tail_step(),
            };
            match step {
                Ok(Some(span)) => return Some(Ok(span)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    fn take_index(&mut self) -> u64 {
        let i = self.st.next_index;
        self.st.next_index += 1;
        i
    }

    fn top_level_step(&mut self) -> Result<Option<Span>, ScanError> {
        let Some(b) = self.peek_byte()? else {
            self.st.mode = Mode::Done;
            if !self.st.seen_value {
                return Err(ScanError::Empty);
            }
            return Ok(None);
        };
        self.st.seen_value = true;
        match b {
            b'{' => {
                if self.at_records_key()? {
                    return self.enter_records();
                }
                let index = self.take_index();
                self.scan_value(index).map(Some)
            }
            b'[' => {
                self.st.pos += 1;
                self.st.mode = Mode::InArray {
                    wrapper: false,
                    first: true,
                };
                Ok(None)
            }
            // A UTF-8 byte-order mark at the very start is tolerated.
            0xEF if self.st.base == 0 && self.st.pos == 0 => {
                self.ensure(3)?;
                if self.data[..3] == [0xEF, 0xBB, 0xBF] {
                    self.st.pos = 3;
                    return Ok(None);
                }
                self.bad_top_level()
            }
            _ => self.bad_top_level(),
        }
    }

    fn bad_top_level(&mut self) -> Result<Option<Span>, ScanError> {
        let offset = self.abs(self.st.pos);
        self.st.pos += 1;
        self.st.resync = true;
        Err(ScanError::Syntax {
            offset,
            index: None,
            message: "expected a JSON object or array of CloudTrail records".into(),
        })
    }

    /// At a `{`: is the first key `"Records"`? Consumes through the colon if so.
    fn at_records_key(&mut self) -> Result<bool, ScanError> {
        // Pretty-printed files put a newline and indentation first; 4 KiB is
        // far more than any real file uses before the key.
        self.ensure(4096)?;
        let window = &self.data[self.st.pos..self.st.len];
        let mut i = 1;
        while i < window.len() && is_ws(window[i]) {
            i += 1;
        }
        if !window[i..].starts_with(b"\"Records\"") {
            return Ok(false);
        }
        i += b"\"Records\"".len();
        while i < window.len() && is_ws(window[i]) {
            i += 1;
        }
        if window.get(i) != Some(&b':') {
            return Ok(false);
        }
        self.st.pos += i + 1;
        Ok(true)
    }

    fn enter_records(&mut self) -> Result<Option<Span>, ScanError> {
        match self.peek_byte()? {
            Some(b'[') => {
                self.st.pos += 1;
                self.st.mode = Mode::InArray {
                    wrapper: true,
                    first: true,
                };
                Ok(None)
            }
            Some(b'n') => {
                let offset = self.abs(self.st.pos);
                self.ensure(4)?;
                if self.data[self.st.pos..self.st.len].starts_with(b"null") {
                    self.st.pos += 4;
                    self.st.mode = Mode::WrapperTail;
                    return Err(ScanError::NullRecords { offset });
                }
                self.records_not_array(offset)
            }
            Some(_) => {
                let offset = self.abs(self.st.pos);
                self.records_not_array(offset)
            }
            None => {
                self.st.mode = Mode::Done;
                Err(ScanError::Syntax {
                    offset: self.abs(self.st.pos),
                    index: None,
                    message: "unexpected end of input after \"Records\":".into(),
                })
            }
        }
    }

    fn records_not_array(&mut self, offset: u64) -> Result<Option<Span>, ScanError> {
        // Skip the offending value so the rest of the input is still read.
        let _ = self.scan_value(u64::MAX);
        self.st.mode = Mode::WrapperTail;
        Err(ScanError::Syntax {
            offset,
            index: None,
            message: "\"Records\" is not an array".into(),
        })
    }

    fn array_step(&mut self, wrapper: bool, first: bool) -> Result<Option<Span>, ScanError> {
        let Some(mut b) = self.peek_byte()? else {
            self.st.mode = Mode::Done;
            return Err(ScanError::Syntax {
                offset: self.abs(self.st.pos),
                index: None,
                message: "unexpected end of input inside the array of records".into(),
            });
        };
        if b == b']' {
            self.st.pos += 1;
            self.st.mode = if wrapper {
                Mode::WrapperTail
            } else {
                Mode::TopLevel
            };
            return Ok(None);
        }
        if !first {
            if b != b',' {
                let offset = self.abs(self.st.pos);
                self.st.resync = true;
                return Err(ScanError::Syntax {
                    offset,
                    index: None,
                    message: format!("expected ',' or ']' between records, found {:?}", b as char),
                });
            }
            self.st.pos += 1;
            match self.peek_byte()? {
                Some(next) => b = next,
                None => {
                    self.st.mode = Mode::Done;
                    return Err(ScanError::Syntax {
                        offset: self.abs(self.st.pos),
                        index: None,
                        message: "unexpected end of input inside the array of records".into(),
                    });
                }
            }
        }
        self.st.mode = Mode::InArray {
            wrapper,
            first: false,
        };
        let index = self.take_index();
        let span = self.scan_value(index)?;
        if b != b'{' {
            return Err(ScanError::Syntax {
                offset: span.offset,
                index: Some(index),
                message: "record is not a JSON object".into(),
            });
        }
        Ok(Some(span))
    }

    fn wrapper_tail_step(&mut self) -> Result<Option<Span>, ScanError> {
        // Inside the wrapper object at depth 1: skip any further members.
        let start = self.st.pos;
        let offset = self.abs(start);
        match self.scan_from(start, 1, false)? {
            (_, false) => {
                self.st.mode = Mode::TopLevel;
                Ok(None)
            }
            (_, true) => {
                self.st.mode = Mode::Done;
                Err(ScanError::Syntax {
                    offset,
                    index: None,
                    message: "unexpected end of input: the {\"Records\": …} object is not closed"
                        .into(),
                })
            }
        }
    }

    /// Look for the next plausible record start after damage: a `{` that
    /// follows `,`, `[` or a line break rather than a `:`.
    fn resync_step(&mut self) -> Result<Option<Span>, ScanError> {
        let mut prev: u8 = b',';
        let mut newline = true;
        loop {
            while self.st.pos < self.st.len {
                let b = self.data[self.st.pos];
                if b == b'{' && prev != b':' && (newline || prev == b',' || prev == b'[') {
                    self.st.resync = false;
                    if self.st.mode == Mode::Done {
                        self.st.mode = Mode::TopLevel;
                    }
                    let index = self.take_index();
                    let mut span = self.scan_value(index)?;
                    span.resynced = true;
                    return Ok(Some(span));
                }
                if b == b'\n' {
                    newline = true;
                } else if !is_ws(b) {
                    prev = b;
                    newline = false;
                }
                self.st.pos += 1;
            }
            let pos = self.st.pos;
            self.compact(pos);
            if !self.read_more()? {
                self.st.resync = false;
                self.st.mode = Mode::Done;
                return Ok(None);
            }
        }
    }

    /// Scan one JSON value starting at `pos` (after whitespace).
    fn scan_value(&mut self, index: u64) -> Result<Span, ScanError> {
        let start = self.st.pos;
        let offset = self.abs(start);
        let first = self.data[start];
        let (end, unterminated) = match first {
            b'{' | b'[' => self.scan_from(start, 0, false)?,
            b'"' => self.scan_from(start + 1, 0, true)?,
            _ => self.scan_scalar(start)?,
        };
        // `scan_from` may have compacted, or dropped the start of a value
        // that outgrew the limit: recompute the start from the offset.
        if offset < self.st.base {
            return Err(ScanError::TooLarge { offset, index });
        }
        let start = (offset - self.st.base) as usize;
        if end - start > self.st.max_record {
            return Err(ScanError::TooLarge { offset, index });
        }
        if unterminated {
            // The input ended inside this value: nothing can follow it.
            self.st.mode = Mode::Done;
        }
        Ok(Span {
            start,
            end,
            offset,
            index,
            unterminated,
            resynced: false,
        })
    }

    fn scan_scalar(&mut self, mut start: usize) -> Result<(usize, bool), ScanError> {
        let mut cur = start;
        loop {
            while cur < self.st.len {
                let b = self.data[cur];
                if is_ws(b) || matches!(b, b',' | b']' | b'}') {
                    self.st.pos = cur;
                    return Ok((cur, false));
                }
                cur += 1;
            }
            // Past the limit the scalar's bytes are dropped as they are read.
            let keep = if cur - start > self.st.max_record {
                cur
            } else {
                start
            };
            let shift = self.compact(keep);
            start -= shift.min(start);
            cur -= shift;
            if !self.read_more()? {
                self.st.pos = cur;
                return Ok((cur, false));
            }
        }
    }

    /// Track strings and depth from `cur` until depth returns to zero.
    /// Returns (end, unterminated). Leaves `pos` at `end`.
    fn scan_from(
        &mut self,
        mut cur: usize,
        mut depth: u32,
        mut in_str: bool,
    ) -> Result<(usize, bool), ScanError> {
        // The value's absolute start, to keep it in the buffer across refills
        // until it grows past the record limit.
        let value_abs = self.abs(self.st.pos);
        loop {
            while cur < self.st.len {
                if in_str {
                    match memchr2(b'"', b'\\', &self.data[cur..self.st.len]) {
                        None => cur = self.st.len,
                        Some(i) => {
                            if self.data[cur + i] == b'\\' {
                                cur += i + 2;
                            } else {
                                in_str = false;
                                cur += i + 1;
                                if depth == 0 {
                                    self.st.pos = cur;
                                    return Ok((cur, false));
                                }
                            }
                        }
                    }
                } else {
                    match self.data[cur] {
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                cur += 1;
                                self.st.pos = cur;
                                return Ok((cur, false));
                            }
                        }
                        _ => {}
                    }
                    cur += 1;
                }
            }
            // Out of data: keep the value (or drop it if already too large).
            let start_rel = value_abs.saturating_sub(self.st.base) as usize;
            let keep = if value_abs < self.st.base || cur - start_rel > self.st.max_record {
                cur.min(self.st.len)
            } else {
                start_rel
            };
            let shift = self.compact(keep);
            cur -= shift;
            while cur >= self.st.len {
                if !self.read_more()? {
                    let end = self.st.len;
                    self.st.pos = end;
                    return Ok((end, true));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(input: &str) -> Vec<Result<String, String>> {
        let mut s = Scanner::new(input.as_bytes(), 1 << 20);
        let mut out = Vec::new();
        while let Some(r) = s.next_span() {
            out.push(match r {
                Ok(sp) => Ok(String::from_utf8_lossy(&s.data[sp.start..sp.end]).into_owned()),
                Err(e) => Err(format!("{e:?}")),
            });
        }
        out
    }

    #[test]
    fn records_wrapper_yields_each_element() {
        let got = spans(r#"{"Records":[{"a":1},{"b":"}"}]}"#);
        assert_eq!(
            got,
            vec![Ok(r#"{"a":1}"#.into()), Ok(r#"{"b":"}"}"#.into())]
        );
    }

    #[test]
    fn ndjson_and_arrays_and_bare_objects_are_streams_of_records() {
        assert_eq!(spans("{\"a\":1}\n{\"b\":2}\n").len(), 2);
        assert_eq!(spans("[{\"a\":1},\n {\"b\":\"x\\\"y\"}]").len(), 2);
        assert_eq!(spans("  {\"eventVersion\":\"1.08\"}  ").len(), 1);
    }

    #[test]
    fn empty_input_is_reported() {
        let got = spans("  \n");
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().is_err_and(|e| e.contains("Empty")));
    }

    #[test]
    fn records_null_is_reported() {
        let got = spans(r#"{"Records": null}"#);
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().is_err_and(|e| e.contains("NullRecords")));
    }

    #[test]
    fn oversized_record_is_skipped_and_the_next_survives() {
        let big = "x".repeat(5000);
        let input = format!(r#"{{"Records":[{{"a":"{big}"}},{{"b":1}}]}}"#);
        let mut s = Scanner::new(input.as_bytes(), 1000);
        let first = s.next_span();
        assert!(matches!(
            first,
            Some(Err(ScanError::TooLarge { index: 0, .. }))
        ));
        let second = s.next_span();
        let Some(Ok(sp)) = second else {
            panic!("expected a span, got {second:?}")
        };
        assert_eq!(&s.data[sp.start..sp.end], br#"{"b":1}"#);
    }

    #[test]
    fn records_split_across_buffer_refills_are_whole() {
        let rec = format!(r#"{{"k":"{}"}}"#, "y".repeat(100_000));
        let body = vec![rec.clone(); 8].join(",");
        let input = format!(r#"{{"Records":[{body}]}}"#);
        // A reader that returns a few bytes at a time exercises every refill path.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(7777);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = Scanner::new(Trickle(input.as_bytes()), 1 << 20);
        let mut n = 0;
        while let Some(r) = s.next_span() {
            let sp = r.expect("span");
            assert_eq!(&s.data[sp.start..sp.end], rec.as_bytes());
            n += 1;
        }
        assert_eq!(n, 8);
    }
}
