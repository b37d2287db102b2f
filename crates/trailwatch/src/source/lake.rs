//! The lake as a source: the `cloudtrail` table's rows rebuilt as CloudTrail
//! records (see `trailwatch_lake::read`) and decoded by the ordinary
//! decoder, so rules see the same records they would see in raw files.

use anyhow::{Context, Result};
use trailwatch_core::event::{DecodeOptions, Decoder, Record};
use trailwatch_lake::error::LakeError;
use trailwatch_lake::read::{
    RowKeep, TableFilter, file_as_ndjson, file_as_ndjson_where, table_files,
};
use trailwatch_lake::store::Store;

/// Feed every event of the lake that passes `filter` to `f`, partition by
/// partition; returns how many rows could not be decoded (logged).
pub fn each_lake_record(
    store: &Store,
    filter: &TableFilter,
    opts: DecodeOptions,
    files_done: &mut dyn FnMut(usize, usize),
    f: impl FnMut(&Record<'_>),
) -> Result<u64> {
    let mut files = table_files(store, filter).context("listing the lake's tables")?;
    in_replay_order(&mut files);
    each_file_record(store, &files, opts, files_done, f)
}

/// Day by day across accounts and regions, so event time advances as it
/// did live (the correlation detections take facts in time order within a
/// window of hours, not across a whole partition's history).
pub fn in_replay_order(files: &mut [String]) {
    files.sort_by_key(|p| {
        let date = p
            .split('/')
            .find_map(|seg| seg.strip_prefix("date="))
            .unwrap_or_default()
            .to_string();
        (date, p.clone())
    });
}

/// The records of rows read back as NDJSON (`text`, of file `path`) to
/// `f`; returns how many could not be decoded (logged).
fn decode_rows(
    path: &str,
    text: &[u8],
    opts: DecodeOptions,
    f: &mut dyn FnMut(&Record<'_>),
) -> Result<u64, LakeError> {
    let mut dec = Decoder::from_reader(path, std::io::Cursor::new(text.to_vec()), opts)?;
    let problems = dec.for_each(
        |r| {
            f(r);
            Ok::<(), std::convert::Infallible>(())
        },
        |e, _| {
            tracing::error!("{e}");
            Ok(())
        },
    );
    Ok(problems.unwrap_or_else(|never| match never {}))
}

/// Feed every event of the lake's table `files` to `f`, in their order;
/// returns how many rows could not be decoded (logged).
pub fn each_file_record(
    store: &Store,
    files: &[String],
    opts: DecodeOptions,
    files_done: &mut dyn FnMut(usize, usize),
    mut f: impl FnMut(&Record<'_>),
) -> Result<u64> {
    let mut problems = 0;
    tracing::debug!(files = files.len(), "reading the lake {}", store.display);
    for (i, path) in files.iter().enumerate() {
        files_done(i, files.len());
        file_as_ndjson(store, path, |text| {
            problems += decode_rows(path, text, opts, &mut f)?;
            Ok(())
        })
        .with_context(|| format!("reading {path} in the lake"))?;
    }
    files_done(files.len(), files.len());
    Ok(problems)
}

/// [`each_lake_record`], reading the whole record only of the rows `keep`
/// keeps (the others are read as the few columns it judges by). `f` gets
/// each record and whether the read already counted it as in the window
/// (a file written before the columns `keep` reads is read whole, and its
/// records are not counted). Returns the problems and the rows counted.
pub fn each_kept_lake_record(
    store: &Store,
    filter: &TableFilter,
    keep: &RowKeep,
    opts: DecodeOptions,
    files_done: &mut dyn FnMut(usize, usize),
    mut f: impl FnMut(&Record<'_>, bool),
) -> Result<(u64, u64)> {
    let mut files = table_files(store, filter).context("listing the lake's tables")?;
    in_replay_order(&mut files);
    let (mut problems, mut counted) = (0, 0);
    for (i, path) in files.iter().enumerate() {
        files_done(i, files.len());
        let mut decode = |text: &[u8], counted: bool| -> Result<(), LakeError> {
            problems += decode_rows(path, text, opts, &mut |r| f(r, counted))?;
            Ok(())
        };
        let read = file_as_ndjson_where(store, path, keep, |text| decode(text, true))
            .with_context(|| format!("reading {path} in the lake"))?;
        match read {
            Some(n) => counted += n,
            None => {
                file_as_ndjson(store, path, |text| decode(text, false))
                    .with_context(|| format!("reading {path} in the lake"))?;
            }
        }
    }
    files_done(files.len(), files.len());
    Ok((problems, counted))
}
