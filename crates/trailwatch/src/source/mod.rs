//! Where records come from: local files, folders and stdin ([`local`]), and
//! S3 prefixes ([`s3`]), each turned into [`Input`]s to decode.

pub mod input;
pub mod lake;
pub mod local;
pub mod s3;
pub mod s3_trail;
pub mod watched;

use anyhow::Result;
use tokio::runtime::Handle;
use trailwatch_core::layout;
use trailwatch_lake::ingest::SourceLocation;
use trailwatch_lake::store::S3Options;

pub use input::{Fetched, Input, each_decoded, each_record};
pub use local::{Discovery, discover};

/// Expand sources that may include `s3://bucket/prefix` URLs: local ones as
/// [`discover`] does, S3 ones by listing the prefix.
pub fn discover_any(
    sources: &[String],
    include_insights: bool,
    s3: &S3Options,
    handle: &Handle,
) -> Result<Discovery> {
    discover_any_skipping(
        sources,
        include_insights,
        s3,
        handle,
        &|_| false,
        &mut |_| {},
    )
}

/// [`discover_any`], not entering the local folders `skip` names and
/// calling `enter` with each local folder before reading it.
pub fn discover_any_skipping(
    sources: &[String],
    include_insights: bool,
    s3: &S3Options,
    handle: &Handle,
    skip: &dyn Fn(&str) -> bool,
    enter: &mut dyn FnMut(&std::path::Path),
) -> Result<Discovery> {
    let (remote, locals): (Vec<String>, Vec<String>) = sources
        .iter()
        .cloned()
        .partition(|s| s.starts_with("s3://"));
    let mut found = if locals.is_empty() {
        Discovery::default()
    } else {
        local::discover_skipping(&locals, include_insights, skip, enter)?
    };
    for url in &remote {
        let mut skipped = s3::Skipped::default();
        for object in s3::list(url, s3, handle, &mut skipped)? {
            let key = match &object.location {
                SourceLocation::Object { path, .. } => layout::parse_key(path.as_ref()),
                _ => None,
            };
            found.inputs.push(Input::Object {
                object,
                key,
                handle: handle.clone(),
            });
        }
        found.skipped_digest += skipped.digest;
        found.skipped_insight += skipped.insight;
        found.skipped_other += skipped.other;
    }
    Ok(found)
}
