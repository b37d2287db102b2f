//! Where records come from: local files, folders and stdin ([`local`]), and
//! S3 prefixes ([`s3`]).

pub mod local;
pub mod s3;

pub use local::{Input, discover, each_record};
