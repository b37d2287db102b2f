//! CloudTrail log file integrity validation, offline (`digest-validation.md`):
//! digest files ([`model`]), CloudTrail's public keys ([`keys`]), streamed
//! hashing ([`hash`]) and the validation of a whole trail ([`validate`]).

pub mod alerts;
pub mod hash;
pub mod keys;
pub mod local;
pub mod model;
pub mod sign;
pub mod validate;

pub use keys::{KeyRing, PublicKey};
pub use local::LocalTrail;
pub use model::{Digest, DigestName, LogFileEntry, string_to_sign};
pub use validate::{
    DigestResult, DigestStatus, Gap, LogResult, LogStatus, Options, Report, Summary, TrailStore,
    check_delivered, validate,
};
