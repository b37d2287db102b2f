//! Integration tests of trailwatch-core: one binary, one module per area.

mod corpora;
mod decode;
mod support;
