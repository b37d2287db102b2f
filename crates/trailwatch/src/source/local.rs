//! Local sources: files, folders walked recursively, and stdin (`-`).
//!
//! A folder that holds CloudTrail's layout (`AWSLogs/…/CloudTrail/…`, or
//! files named by CloudTrail's convention) is read as a trail: only its log
//! files are decoded, while digest and Insights files and unrelated files are
//! counted as skipped. A folder without that layout is read as a folder of
//! JSON/NDJSON files. A file named on the command line is always read.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use trailwatch_core::layout::{self, ObjectKind};

use super::input::Input;
use trailwatch_core::walk::{Unreadable, slash_path};

/// The inputs found, and what was deliberately left out.
#[derive(Debug, Default)]
pub struct Discovery {
    pub inputs: Vec<Input>,
    pub skipped_digest: u64,
    pub skipped_insight: u64,
    pub skipped_other: u64,
    /// Files and folders that could not be read (reported, not fatal).
    pub unreadable: Vec<Unreadable>,
}

const DATA_SUFFIXES: &[&str] = &[
    ".json",
    ".json.gz",
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".ndjson.gz",
    ".gz",
    // OCSF events (Amazon Security Lake's), read back as CloudTrail.
    ".parquet",
];

fn has_data_suffix(name: &str) -> bool {
    DATA_SUFFIXES.iter().any(|s| name.ends_with(s))
}

impl Discovery {
    /// Report each file or folder that could not be read; returns how many.
    pub fn report_unreadable(&self) -> u64 {
        for u in &self.unreadable {
            tracing::error!("cannot read {}: {}", u.path.display(), u.reason);
        }
        self.unreadable.len() as u64
    }
}

/// Expand the command-line sources into inputs, in a stable order.
pub fn discover(sources: &[String], include_insights: bool) -> Result<Discovery> {
    discover_skipping(sources, include_insights, &|_| false, &mut |_| {})
}

/// [`discover`], not entering the folders `skip` names (paths below each
/// source folder), and calling `enter` with each folder before reading it
/// (see [`trailwatch_core::walk::walk_skipping`]).
pub fn discover_skipping(
    sources: &[String],
    include_insights: bool,
    skip: &dyn Fn(&str) -> bool,
    enter: &mut dyn FnMut(&Path),
) -> Result<Discovery> {
    let mut d = Discovery::default();
    for src in sources {
        if src == "-" {
            d.inputs.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(src);
        let meta = std::fs::metadata(&path).with_context(|| format!("cannot read source {src}"))?;
        if meta.is_file() {
            let key = layout::parse_key(&slash_path(&path));
            d.inputs.push(Input::File {
                path,
                key,
                size: meta.len(),
            });
        } else if meta.is_dir() {
            walk(&path, include_insights, skip, enter, &mut d)?;
        } else {
            bail!("source {src} is neither a file nor a folder");
        }
    }
    Ok(d)
}

/// One file that appeared under `root` (a watched folder), as the walk
/// would have taken it: `trail` says whether the folder is a trail folder
/// (then only CloudTrail log files count). None for anything else.
pub fn input_for(root: &Path, path: &Path, trail: bool) -> Option<Input> {
    let rel = slash_path(path.strip_prefix(root).ok()?);
    let name = path.file_name()?.to_string_lossy().into_owned();
    if name.starts_with('.') || layout::is_non_log_path(&rel).is_some() {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || !has_data_suffix(&name) {
        return None;
    }
    let key = layout::parse_key(&rel);
    if trail && key.is_none() {
        return None;
    }
    Some(Input::File {
        path: path.to_path_buf(),
        key,
        size: meta.len(),
    })
}

fn walk(
    root: &Path,
    include_insights: bool,
    skip: &dyn Fn(&str) -> bool,
    enter: &mut dyn FnMut(&Path),
    d: &mut Discovery,
) -> Result<()> {
    let mut trail_files = Vec::new();
    let mut plain_files = Vec::new();
    let mut skipped_plain = 0;
    let found = trailwatch_core::walk::walk_skipping(root, skip, enter);
    d.unreadable.extend(found.unreadable);
    skipped_plain += found.special;
    for f in found.files {
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rel = f.rel;
        let size = f.size;
        if let Some(kind) = layout::is_non_log_path(&rel) {
            match kind {
                ObjectKind::Digest => {
                    d.skipped_digest += 1;
                    continue;
                }
                ObjectKind::Insight if !include_insights => {
                    d.skipped_insight += 1;
                    continue;
                }
                _ => {}
            }
        }
        let input = Input::File {
            path: f.path,
            key: layout::parse_key(&rel),
            size,
        };
        match &input {
            // A trail folder's log files end in .json.gz; anything else
            // there (a sync tool's `.partial` file, say) is not one yet.
            Input::File { key: Some(_), .. } if has_data_suffix(&name) => trail_files.push(input),
            Input::File { key: Some(_), .. } => skipped_plain += 1,
            _ if has_data_suffix(&name) => plain_files.push(input),
            _ => skipped_plain += 1,
        }
    }
    if trail_files.is_empty() {
        d.inputs.extend(plain_files);
    } else {
        // A trail folder: other JSON beside the trail is not trail data.
        if !plain_files.is_empty() {
            tracing::debug!(
                folder = %root.display(),
                count = plain_files.len(),
                "skipping files that are not CloudTrail log files"
            );
        }
        d.skipped_other += plain_files.len() as u64;
        d.inputs.extend(trail_files);
    }
    d.skipped_other += skipped_plain;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
        std::fs::write(p, b"{}").expect("write");
    }

    #[test]
    fn trail_folder_reads_logs_and_skips_digests_insights_and_notes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        touch(
            root,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0105Z_abc.json.gz",
        );
        touch(
            root,
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T010000Z.json.gz",
        );
        touch(
            root,
            "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/01/111122223333_CloudTrail-Insight_us-east-1_20240501T0105Z_abc.json.gz",
        );
        touch(root, "planted-incidents.json");
        // A sync tool's temporary name is not a log file (yet).
        touch(
            root,
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T0110Z_abd.json.partial",
        );
        let d = discover(&[root.display().to_string()], false).expect("discovers");
        assert_eq!(d.inputs.len(), 1);
        assert_eq!(
            (d.skipped_digest, d.skipped_insight, d.skipped_other),
            (1, 1, 2)
        );
        let Input::File { key: Some(k), .. } = &d.inputs[0] else {
            panic!("expected a keyed file")
        };
        assert_eq!(
            (k.account.as_str(), k.region.as_str()),
            ("111122223333", "us-east-1")
        );
    }

    #[test]
    fn plain_folder_reads_every_json_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), "a.json");
        touch(dir.path(), "sub/b.jsonl");
        touch(dir.path(), "notes.txt");
        let d = discover(&[dir.path().display().to_string()], false).expect("discovers");
        assert_eq!(d.inputs.len(), 2);
        assert_eq!(d.skipped_other, 1);
    }
}
