//! Hashing what digests vouch for: SHA-256 of the decompressed bytes,
//! streamed through a fixed buffer (a log file is never held whole), with
//! aws-cli's rule that bytes after the single gzip member are an error.

use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::GzDecoder;
use sha2::{Digest as _, Sha256};

/// Read buffer per file being hashed.
const BUFFER: usize = 256 * 1024;

/// What hashing a gzip stream found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hashed {
    /// Lowercase hex SHA-256 of the decompressed bytes, and their count.
    Ok { sha256: String, bytes: u64 },
    /// The gzip member ended but more bytes followed.
    TrailingData,
    /// Not gzip, or a corrupt or truncated stream.
    BadFormat(String),
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Hash the decompressed content of one gzip member read from `r`.
/// I/O errors of the reader itself are returned as errors (they are not a
/// verdict on the file); problems of the stream are verdicts.
pub fn hash_gzip<R: Read>(r: R) -> io::Result<Hashed> {
    let mut input = CountingErrors {
        inner: r,
        failed: None,
    };
    let reader = BufReader::with_capacity(BUFFER, &mut input);
    let mut gz = GzDecoder::new(reader);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        match gz.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) => {
                drop(gz);
                if let Some(io) = input.failed.take() {
                    return Err(io);
                }
                return Ok(Hashed::BadFormat(e.to_string()));
            }
        }
    }
    let mut rest = gz.into_inner();
    let trailing = !rest.fill_buf()?.is_empty();
    drop(rest);
    if let Some(io) = input.failed.take() {
        return Err(io);
    }
    if trailing {
        return Ok(Hashed::TrailingData);
    }
    Ok(Hashed::Ok {
        sha256: hex(&hasher.finalize()),
        bytes: total,
    })
}

/// Gunzip a small object (a digest) whole; the caller hashes and parses it.
pub fn gunzip_small(bytes: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut gz = GzDecoder::new(bytes);
    let mut out = Vec::new();
    (&mut gz)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes decompressed"));
    }
    let rest = gz.into_inner();
    if !rest.is_empty() {
        return Err("unexpected data after end of compressed stream".into());
    }
    Ok(out)
}

/// SHA-256 of bytes in memory, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Keeps the reader's own I/O errors apart from gzip format errors, which
/// flate2 reports through the same `io::Error` type.
struct CountingErrors<R> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R: Read> Read for CountingErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(copy)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn hashes_the_decompressed_bytes() {
        let r = hash_gzip(&gz(b"abc")[..]).unwrap();
        assert_eq!(
            r,
            Hashed::Ok {
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                bytes: 3
            }
        );
        let big = vec![b'x'; 3 * BUFFER + 17];
        let Hashed::Ok { sha256, bytes } = hash_gzip(&gz(&big)[..]).unwrap() else {
            panic!("not hashed");
        };
        assert_eq!(bytes, big.len() as u64);
        assert_eq!(sha256, sha256_hex(&big));
    }

    #[test]
    fn trailing_bytes_truncation_and_non_gzip_are_verdicts() {
        let mut extra = gz(b"abc");
        extra.extend_from_slice(b"garbage");
        assert_eq!(hash_gzip(&extra[..]).unwrap(), Hashed::TrailingData);
        let whole = gz(&vec![b'y'; 100_000]);
        let cut = &whole[..whole.len() / 2];
        assert!(matches!(hash_gzip(cut).unwrap(), Hashed::BadFormat(_)));
        assert!(matches!(
            hash_gzip(&b"{\"Records\":[]}"[..]).unwrap(),
            Hashed::BadFormat(_)
        ));
        assert!(gunzip_small(&extra, 1 << 20).is_err());
        assert_eq!(gunzip_small(&gz(b"abc"), 1 << 20).unwrap(), b"abc");
        assert!(gunzip_small(&gz(&[0u8; 4096]), 100).is_err());
    }
}
