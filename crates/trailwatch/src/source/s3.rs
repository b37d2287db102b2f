//! S3 sources (`s3://bucket/prefix`): list the prefix (paginated by
//! object_store) and keep CloudTrail log objects, the way a local trail
//! folder is read. Objects are fetched later, concurrently and bounded, by
//! the ingest pipeline.

use std::sync::Arc;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use tokio::runtime::Handle;
use trailwatch_core::layout::{self, ObjectKind};
use trailwatch_lake::ingest::{SourceLocation, SourceObject};
use trailwatch_lake::store::{Location, S3Options, s3_store};

/// Counts of what a listing left out.
#[derive(Debug, Default)]
pub struct Skipped {
    pub digest: u64,
    pub insight: u64,
    pub other: u64,
}

/// List the CloudTrail log objects under `s3://bucket/prefix`.
pub fn list(
    url: &str,
    s3: &S3Options,
    handle: &Handle,
    skipped: &mut Skipped,
) -> Result<Vec<SourceObject>> {
    let Location::S3 { bucket, prefix } = Location::parse(url) else {
        anyhow::bail!("{url} is not an s3:// URL");
    };
    let store: Arc<dyn ObjectStore> = s3_store(&bucket, s3).context("configuring S3")?;
    let prefix_path = (!prefix.is_empty()).then(|| Path::from(prefix.as_str()));
    let mut metas: Vec<object_store::ObjectMeta> = handle
        .block_on(store.list(prefix_path.as_ref()).try_collect())
        .with_context(|| format!("listing {url}"))?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(classify(&bucket, &store, metas, skipped))
}

/// A trail's region folder in a bucket (`…AWSLogs/[o-x/]<account>/CloudTrail/<region>/`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RegionFolder {
    pub folder: String,
    pub account: String,
    pub region: String,
}

/// The region folders the keys of `objects` lie in.
pub fn region_folders(objects: &[SourceObject]) -> Vec<RegionFolder> {
    let mut out: Vec<RegionFolder> = objects
        .iter()
        .filter_map(|o| {
            let SourceLocation::Object { path, .. } = &o.location else {
                return None;
            };
            let key = path.to_string();
            let k = layout::parse_key(&key)?;
            let marker = format!("/CloudTrail/{}/", k.region);
            let end = key.find(&marker)? + marker.len();
            Some(RegionFolder {
                folder: key[..end].to_string(),
                account: k.account,
                region: k.region,
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// List only what can be new: in each region folder, the keys from day
/// `from` (`YYYY/MM/DD`) on (S3's StartAfter: CloudTrail keys sort by
/// date). Returns the log objects and how many list calls it made.
pub fn list_from_days(
    url: &str,
    s3: &S3Options,
    handle: &Handle,
    folders: &[(RegionFolder, Option<String>)],
    skipped: &mut Skipped,
) -> Result<(Vec<SourceObject>, usize)> {
    let Location::S3 { bucket, .. } = Location::parse(url) else {
        anyhow::bail!("{url} is not an s3:// URL");
    };
    let store: Arc<dyn ObjectStore> = s3_store(&bucket, s3).context("configuring S3")?;
    let mut metas = Vec::new();
    for (f, from) in folders {
        let prefix = Path::from(f.folder.as_str());
        let listed: Vec<object_store::ObjectMeta> = match from {
            Some(day) => {
                // Keys after `<folder><day>` hold that day and later ones.
                let offset = Path::from(format!("{}{day}", f.folder));
                handle.block_on(store.list_with_offset(Some(&prefix), &offset).try_collect())
            }
            None => handle.block_on(store.list(Some(&prefix)).try_collect()),
        }
        .with_context(|| format!("listing s3://{bucket}/{}", f.folder))?;
        metas.extend(listed);
    }
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    Ok((classify(&bucket, &store, metas, skipped), folders.len()))
}

/// Keep the CloudTrail log objects of a listing (all data objects when the
/// listing holds no trail), counting what is left out.
fn classify(
    bucket: &str,
    store: &Arc<dyn ObjectStore>,
    metas: Vec<object_store::ObjectMeta>,
    skipped: &mut Skipped,
) -> Vec<SourceObject> {
    let mut trail = Vec::new();
    let mut plain = Vec::new();
    for m in metas {
        let key = m.location.to_string();
        match layout::is_non_log_path(&key) {
            Some(ObjectKind::Digest) => {
                skipped.digest += 1;
                continue;
            }
            Some(ObjectKind::Insight) => {
                skipped.insight += 1;
                continue;
            }
            _ => {}
        }
        let parsed = layout::parse_key(&key);
        let object = SourceObject {
            key: format!("s3://{bucket}/{key}"),
            size: m.size,
            version: match &m.e_tag {
                Some(etag) => format!("etag:{etag}"),
                None => format!(
                    "modified:{}",
                    m.last_modified.timestamp_nanos_opt().unwrap_or(0)
                ),
            },
            fallback_account: parsed.as_ref().map(|k| k.account.clone()),
            location: SourceLocation::Object {
                store: Arc::clone(store),
                path: m.location.clone(),
            },
        };
        let data = key.ends_with(".json")
            || key.ends_with(".gz")
            || key.ends_with(".jsonl")
            || key.ends_with(".ndjson")
            || trailwatch_lake::ocsf::is_parquet_name(&key);
        if parsed.is_some() && data {
            trail.push(object);
        } else if data {
            plain.push(object);
        } else {
            skipped.other += 1;
        }
    }
    if trail.is_empty() {
        plain
    } else {
        skipped.other += plain.len() as u64;
        trail
    }
}
