//! Where records come from. This issue brings local files, folders and
//! stdin; S3 and HTTP sources sit beside [`local`] as they arrive.

pub mod local;

pub use local::{Input, discover};
