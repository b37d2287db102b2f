//! Replaying history: every record of trail files (in delivery order) or
//! of the lake (day by day) in a window of event time, with what is known
//! of event time as the replay goes, so detectors evaluate and forget as
//! they go instead of all at the end. `detect` and `rules backtest` run
//! on it.

use anyhow::Result;
use chrono::{DateTime, Utc};
use trailwatch_core::backtest::prefilter::Prefilter;
use trailwatch_core::event::{DecodeOptions, Record, TimeBounds};
use trailwatch_lake::read::{RowKeep, TableFilter};
use trailwatch_lake::store::{S3Options, Store};

use crate::progress::Progress;
use crate::source::lake::{each_kept_lake_record, each_lake_record};
use crate::source::{Input, discover_any, each_record};

/// What a replay reads: the sources (or the lake) in a window of event
/// time.
#[derive(Clone, Copy)]
pub struct Replay<'a> {
    pub sources: &'a [String],
    pub opts: DecodeOptions,
    pub include_insights: bool,
    pub s3: &'a S3Options,
    pub lake: Option<&'a Store>,
    pub handle: &'a tokio::runtime::Handle,
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// From the lake, only the rows this admits are read whole (the rest
    /// are counted in the window, and judged by its few columns).
    pub prefilter: Option<&'a Prefilter>,
}

/// How far behind a trail prefix's newest event a delivery-ordered replay
/// still takes an event in order: CloudTrail delivers a file some minutes
/// after its events (5 on average, 15 at most, AWS says), so a later file
/// of a prefix holds events older than the newest already read. An event
/// later than this is still counted (alarms re-evaluate; a correlation
/// takes it out of order), as a live watcher would with its own lateness
/// (`watch --lateness`, 5 minutes by default). Facts wait this long for
/// their turn, so it sets the correlation buffer's size: at 20M events in
/// 7 days, an hour of it held up to 25 MB in the busiest hours.
pub const REPLAY_LATENESS_SECS: i64 = 900;

/// How long behind event time an alarm keeps its samples in a replay of
/// the lake, which moves event time on a day at a time (a live watcher's
/// `--late-horizon`, 14 days by default): a day and two hours, as far back
/// as the day-by-day read reaches. An event later than that still raises
/// its findings, but no longer counts in an alarm's window; alarm state
/// stays a day deep instead of as deep as the history replayed.
pub const LAKE_REPLAY_LATE_HORIZON_MINUTES: i64 = 26 * 60;

/// The same for a replay of trail files in delivery order, whose event
/// time trails the slowest prefix by [`REPLAY_LATENESS_SECS`] only: two
/// hours, eight times that. (At 20M events in 7 days, a day of CIS alarm
/// samples was 9 MB of the replay's memory.)
pub const TRAIL_REPLAY_LATE_HORIZON_MINUTES: i64 = 2 * 60;

/// What a replay meets, in order: records, and what it knows of event time.
pub enum Step<'a> {
    /// One record at or after `since`, with the input it came from (none
    /// for the lake) and its believable times.
    Record(Option<&'a Input>, &'a Record<'a>, &'a TimeBounds),
    /// This input is to be read: until its trail prefix has been read
    /// from, it holds event time back (its first file may reach far back).
    Expect(&'a Input),
    /// Every file of this input's trail prefix has been read.
    PrefixRead(&'a Input),
    /// An input of a delivery-ordered replay has been read: event time may
    /// move on to the slowest prefix's newest event, less the lateness.
    InputRead,
    /// Every event before this time (epoch ms) has been read: the lake is
    /// read a day at a time, and an event lies in its own day's partition.
    ReadBefore(i64),
}

/// Every record of the sources (or the lake) at or after `since`, and
/// what is known of event time as the replay goes (so detectors evaluate
/// and forget as they go, in bounded memory, instead of all at the end);
/// returns the number of problems (unreadable files, bad records).
pub fn each_source_record(
    source: &Replay<'_>,
    window: &mut Window,
    mut f: impl FnMut(Step<'_>),
) -> Result<u64> {
    match source.lake {
        Some(store) => each_lake_step(source, store, window, &mut f),
        None => each_file_step(source, window, &mut f),
    }
}

/// The lake, a day at a time: event time moves on as each day begins.
fn each_lake_step(
    source: &Replay<'_>,
    store: &Store,
    window: &mut Window,
    f: &mut dyn FnMut(Step<'_>),
) -> Result<u64> {
    let (since, until) = (source.since, source.until);
    let filter = TableFilter {
        since_date: since.map(|s| s.format("%Y-%m-%d").to_string()),
    };
    // The lake keeps no delivery stamps: times are bounded by now.
    let bounds = TimeBounds::for_file(None, Utc::now());
    let progress = Progress::new(0, "lake files");
    let mut files_done = |done: usize, total: usize| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    };
    let mut day = None;
    let mut counted_rows = 0;
    let mut next = |r: &Record<'_>, counted: bool| {
        let date = r.time.date_naive();
        if day.is_some_and(|d| date > d) {
            let midnight = date.and_time(chrono::NaiveTime::MIN).and_utc();
            f(Step::ReadBefore(midnight.timestamp_millis()));
        }
        day = Some(day.map_or(date, |d: chrono::NaiveDate| d.max(date)));
        // A row a filtered read counted is in the window already: only
        // its time is noted.
        let wanted = if counted {
            window.saw(r);
            true
        } else {
            window.take(r, since, until)
        };
        if wanted {
            f(Step::Record(None, r, &bounds));
        }
    };
    let problems = match source.prefilter {
        None => each_lake_record(store, &filter, source.opts, &mut files_done, |r| {
            next(r, false)
        })?,
        Some(p) => {
            let keep = RowKeep {
                prefilter: std::sync::Arc::new(p.clone()),
                since_ms: since.map(|t| t.timestamp_millis()),
                until_ms: until.map(|t| t.timestamp_millis()),
            };
            let (problems, counted) =
                each_kept_lake_record(store, &filter, &keep, source.opts, &mut files_done, next)?;
            counted_rows = counted;
            problems
        }
    };
    window.add_counted(counted_rows);
    progress.finish();
    Ok(problems)
}

/// Trail files in delivery order, as a watcher takes them: correlation
/// detections see event time advance as it did live.
fn each_file_step(
    source: &Replay<'_>,
    window: &mut Window,
    f: &mut dyn FnMut(Step<'_>),
) -> Result<u64> {
    let now = Utc::now();
    let mut found = discover_any(
        source.sources,
        source.include_insights,
        source.s3,
        source.handle,
    )?;
    found.inputs.sort_by_key(Input::delivery_order);
    let unreadable = found.report_unreadable();
    // Each input's bounds, computed once; inputs come in order, so a
    // cursor moving forward by address finds the current one.
    let bounds: Vec<TimeBounds> = found.inputs.iter().map(|i| i.time_bounds(now)).collect();
    let last_of_prefix = last_of_each_prefix(&found.inputs);
    // Event time moves on only when every input carries its delivery time
    // (files named as CloudTrail names them); files in any other order
    // are evaluated at the end.
    let delivered = found
        .inputs
        .iter()
        .all(|i| i.trail_key().is_some_and(|k| k.delivery_stamp.is_some()));
    if delivered {
        for input in &found.inputs {
            f(Step::Expect(input));
        }
    }
    let mut at = 0;
    let progress = Progress::new(found.inputs.len() as u64, "files");
    let problems = unreadable
        + each_record(&found.inputs, source.opts, |input, r| {
            let before = at;
            while at + 1 < found.inputs.len() && !std::ptr::eq(&found.inputs[at], input) {
                if last_of_prefix[at] {
                    f(Step::PrefixRead(&found.inputs[at]));
                }
                at += 1;
                progress.inc(1);
            }
            if delivered && at != before {
                f(Step::InputRead);
            }
            if window.take(r, source.since, source.until) {
                f(Step::Record(Some(input), r, &bounds[at]));
            }
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap_or_else(|never| match never {});
    progress.finish();
    Ok(problems)
}

/// For each input, whether it is the last of its trail prefix (account and
/// region); inputs outside the trail layout are never last.
fn last_of_each_prefix(inputs: &[Input]) -> Vec<bool> {
    let mut last = std::collections::HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        if let Some(k) = input.trail_key() {
            last.insert((&k.account, &k.region), i);
        }
    }
    let mut out = vec![false; inputs.len()];
    for i in last.into_values() {
        out[i] = true;
    }
    out
}

/// The events a replay read, and how many fell in its window: what an
/// empty window says about itself.
#[derive(Debug, Default)]
pub struct Window {
    /// Events read, and of those in the window.
    pub read: u64,
    pub in_window: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

impl Window {
    /// Note the time of a record already counted.
    fn saw(&mut self, r: &Record<'_>) {
        self.oldest = Some(self.oldest.map_or(r.time, |t| t.min(r.time)));
        self.newest = Some(self.newest.map_or(r.time, |t| t.max(r.time)));
    }

    /// Rows a filtered read counted in the window.
    fn add_counted(&mut self, n: u64) {
        self.read += n;
        self.in_window += n;
    }

    /// Note one record; whether it is at or after `since` and before
    /// `until`.
    fn take(
        &mut self,
        r: &Record<'_>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> bool {
        self.read += 1;
        self.oldest = Some(self.oldest.map_or(r.time, |t| t.min(r.time)));
        self.newest = Some(self.newest.map_or(r.time, |t| t.max(r.time)));
        let wanted = since.is_none_or(|s| r.time >= s) && until.is_none_or(|u| r.time < u);
        self.in_window += u64::from(wanted);
        wanted
    }

    /// Why nothing was found, when `--since` left no event to look at.
    pub fn hint(&self, since: DateTime<Utc>, lake: bool) -> Option<String> {
        if self.in_window > 0 {
            return None;
        }
        let at = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        Some(match (self.oldest, self.newest) {
            (Some(old), Some(new)) if !lake => format!(
                "no events at or after {}: the events read span {} to {}; try --since {}",
                at(since),
                at(old),
                at(new),
                old.format("%Y-%m-%d")
            ),
            (_, Some(new)) => format!(
                "no events at or after {}: the newest the lake holds from that day on is {}",
                at(since),
                at(new)
            ),
            _ if lake => format!(
                "no events at or after {}: the lake holds none from {} on",
                at(since),
                since.format("%Y-%m-%d")
            ),
            _ => "no events were read".to_string(),
        })
    }
}
