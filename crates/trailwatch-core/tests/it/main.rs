//! Integration tests of trailwatch-core: one binary, one module per area.
// Tests fail loudly: unwrap and expect are the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod corpora;
mod decode;
mod digest;
mod hostile;
mod ocsf;
mod rules;
mod sigma;
mod support;
