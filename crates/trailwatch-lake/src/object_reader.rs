//! A Parquet [`ChunkReader`] over one stored object that fetches only the
//! byte ranges the Parquet reader asks for (the footer, a bloom filter, one
//! column chunk), local or on S3, instead of the whole file: checking an
//! event id against a partition must not cost the partition's size in
//! memory.

use std::io::Read;

use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use crate::error::LakeError;
use crate::store::Store;

/// How much a sequential read (the page headers of a column chunk) fetches
/// at a time.
const WINDOW: u64 = 256 * 1024;

/// One stored object, read by ranges.
#[derive(Debug, Clone)]
pub struct StoredObject {
    store: Store,
    rel: String,
    len: u64,
}

impl StoredObject {
    /// The object `rel` of `store` (one HEAD request for its size).
    pub fn open(store: &Store, rel: &str) -> Result<StoredObject, LakeError> {
        Ok(StoredObject {
            store: store.clone(),
            rel: rel.to_string(),
            len: store.size(rel)?,
        })
    }

    fn range(&self, start: u64, end: u64) -> parquet::errors::Result<Bytes> {
        if start > end || end > self.len {
            return Err(ParquetError::EOF(format!(
                "bytes {start}..{end} of {} ({} bytes)",
                self.rel, self.len
            )));
        }
        self.store
            .get_range(&self.rel, start..end)
            .map_err(|e| ParquetError::External(Box::new(e)))
    }
}

impl Length for StoredObject {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for StoredObject {
    type T = Sequential;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Sequential> {
        if start > self.len {
            return Err(ParquetError::EOF(format!(
                "offset {start} of {} ({} bytes)",
                self.rel, self.len
            )));
        }
        Ok(Sequential {
            object: self.clone(),
            next: start,
            window: Bytes::new(),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.range(start, start.saturating_add(length as u64))
    }
}

/// A sequential reader from an offset, fetching [`WINDOW`] bytes at a time.
#[derive(Debug)]
pub struct Sequential {
    object: StoredObject,
    /// Where the next window starts.
    next: u64,
    window: Bytes,
}

impl Read for Sequential {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.window.has_remaining() {
            let end = (self.next + WINDOW).min(self.object.len);
            if end == self.next {
                return Ok(0);
            }
            self.window = self
                .object
                .range(self.next, end)
                .map_err(std::io::Error::other)?;
            self.next = end;
        }
        let n = buf.len().min(self.window.remaining());
        self.window.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::temp_store;

    #[test]
    fn ranges_and_sequential_reads_give_the_stored_bytes() {
        let (_rt, _dir, store) = temp_store();
        let body: Vec<u8> = (0..(WINDOW as usize * 2 + 77))
            .map(|i| (i % 251) as u8)
            .collect();
        store
            .put("a/b.bin", Bytes::from(body.clone()))
            .expect("put");
        let obj = StoredObject::open(&store, "a/b.bin").expect("open");
        assert_eq!(obj.len(), body.len() as u64);
        assert_eq!(obj.get_bytes(10, 5).expect("range").as_ref(), &body[10..15]);
        let mut all = Vec::new();
        obj.get_read(3)
            .expect("reader")
            .read_to_end(&mut all)
            .expect("read");
        assert_eq!(all, body[3..]);
        assert!(obj.get_bytes(body.len() as u64 - 1, 2).is_err());
        assert!(obj.get_read(body.len() as u64 + 1).is_err());
    }
}
