//! `trailwatch generate`: a deterministic, realistic sample trail.
//!
//! Writes a multi-account, multi-region organisation trail in CloudTrail's
//! S3 layout (`AWSLogs/<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/…`),
//! with ordinary traffic shaped by time of day and the incidents of
//! [`incidents`] planted among it. The same seed gives the same bytes.

mod incidents;
mod record;
mod traffic;
mod world;

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use record::{GenEvent, file_unique};
use world::{ACCOUNTS, ORG_ID, Principal, REGIONS};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Total records, planted incidents included.
    pub events: u64,
    pub days: u32,
    pub start: DateTime<Utc>,
    pub seed: u64,
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub files: u64,
    pub events: u64,
    pub incident_events: u64,
    pub incidents: usize,
    pub bytes: u64,
}

/// The name of the incident list written beside `AWSLogs/`.
pub const INCIDENTS_FILE: &str = "planted-incidents.json";

/// Delivery windows, in minutes, that divide a day evenly.
const WINDOWS: &[i64] = &[5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440];

/// Traffic by hour of day (UTC): a working-hours bump over a night floor.
fn diurnal(hour: u32) -> f64 {
    let d = f64::from(hour) - 14.0;
    0.25 + (-(d * d) / 18.0).exp()
}

struct Stream {
    account: &'static str,
    region: &'static str,
    weight: f64,
}

pub fn generate(opts: &Options, progress: &dyn Fn(u64)) -> Result<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let span = Duration::days(i64::from(opts.days.max(1)));
    let mut principals: Vec<Vec<Principal>> = Vec::new();
    for account in ACCOUNTS {
        let mut keys = |prefix: &str| record::access_key(&mut rng, prefix);
        principals.push(world::principals(account.id, &mut keys));
    }
    let planted = incidents::plant(&mut rng, opts.start, span);
    let mut pending: Vec<GenEvent> = planted.iter().flat_map(|i| i.events.clone()).collect();
    pending.sort_by(|a, b| a.event_time.cmp(&b.event_time));
    let incident_events = pending.len() as u64;
    // The incidents are the sample's point: fewer events than they take
    // would quietly write more than asked.
    if opts.events < incident_events {
        anyhow::bail!(
            "--events {}: the planted incidents alone take {incident_events} events over {} days; give at least that many",
            opts.events,
            opts.days.max(1)
        );
    }
    let ordinary_total = opts.events.saturating_sub(incident_events);

    let minutes = span.num_minutes();
    let (streams, window) = streams_and_window(opts.events, minutes);
    let n_windows = minutes / window;
    let weight_of = |w: i64, s: &Stream| {
        let t = opts.start + Duration::minutes(w * window + window / 2);
        s.weight * diurnal(t.hour())
    };
    let total_weight: f64 = (0..n_windows)
        .map(|w| streams.iter().map(|s| weight_of(w, s)).sum::<f64>())
        .sum();

    fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let mut summary = Summary {
        incident_events,
        incidents: planted.len(),
        ..Summary::default()
    };
    let mut cumulative = 0.0;
    let mut allocated = 0u64;
    let mut pending = pending.into_iter().peekable();
    let mut late: Vec<GenEvent> = Vec::new();
    for w in 0..n_windows {
        let w_start = opts.start + Duration::minutes(w * window);
        let w_end = w_start + Duration::minutes(window);
        let end_stamp = record::cloudtrail_time(w_end);
        let mut planted_here: Vec<GenEvent> = Vec::new();
        while pending.peek().is_some_and(|e| e.event_time < end_stamp) {
            planted_here.extend(pending.next());
        }
        for (si, s) in streams.iter().enumerate() {
            cumulative += weight_of(w, s);
            let last = w == n_windows - 1 && si == streams.len() - 1;
            let target = if last {
                ordinary_total
            } else {
                (cumulative / total_weight * ordinary_total as f64).round() as u64
            };
            let count = target.saturating_sub(allocated);
            allocated += count;
            let acct_index = ACCOUNTS.iter().position(|a| a.id == s.account).unwrap_or(0);
            let mut events = ordinary_events(
                &mut rng,
                &principals[acct_index],
                s,
                (w_start, window),
                count,
                w + 1 < n_windows,
                &mut late,
            );
            events.extend(take_stream(&mut planted_here, s));
            events.extend(take_stream(&mut late, s));
            if events.is_empty() {
                continue;
            }
            events.sort_by(|a, b| a.event_time.cmp(&b.event_time));
            let delivered = w_end + Duration::minutes(5);
            let bytes = write_file(&opts.out, s, delivered, &mut rng, &events)?;
            summary.files += 1;
            summary.events += events.len() as u64;
            summary.bytes += bytes;
            progress(events.len() as u64);
        }
        // Planted events for streams that had no window slot are kept for the next.
        late.extend(planted_here);
    }
    let delivered = opts.start + span + Duration::minutes(10);
    deliver_rest(opts, &streams, late, delivered, &mut rng, &mut summary)?;
    let list = serde_json::to_string_pretty(&planted)?;
    fs::write(opts.out.join(INCIDENTS_FILE), list + "\n")?;
    Ok(summary)
}

/// Anything still late after the last window, delivered in one final file
/// per stream at `delivered`.
fn deliver_rest(
    opts: &Options,
    streams: &[Stream],
    mut late: Vec<GenEvent>,
    delivered: DateTime<Utc>,
    rng: &mut impl Rng,
    summary: &mut Summary,
) -> Result<()> {
    for s in streams {
        let mine = take_stream(&mut late, s);
        if mine.is_empty() {
            continue;
        }
        summary.bytes += write_file(&opts.out, s, delivered, &mut *rng, &mine)?;
        summary.files += 1;
        summary.events += mine.len() as u64;
    }
    Ok(())
}

/// Every account and region's stream of files, weighted, and the minutes
/// one file covers: about fifty records a file, as busy accounts see,
/// never under 5 minutes.
fn streams_and_window(events: u64, minutes: i64) -> (Vec<Stream>, i64) {
    let streams: Vec<Stream> = ACCOUNTS
        .iter()
        .flat_map(|a| {
            REGIONS.iter().map(move |(r, w)| Stream {
                account: a.id,
                region: r,
                weight: a.weight * w,
            })
        })
        .collect();
    let wanted = minutes * streams.len() as i64 * 50 / (events.max(1) as i64);
    let window = *WINDOWS.iter().find(|w| **w >= wanted).unwrap_or(&1440);
    (streams, window)
}

/// `count` ordinary events of stream `s` in the window `(start, minutes)`;
/// one in a hundred is delivered late, in a later file (put in `late`),
/// when a later window exists. The random draws keep their order: the
/// same seed gives the same bytes.
fn ordinary_events(
    rng: &mut impl Rng,
    principals: &[Principal],
    s: &Stream,
    (w_start, window): (DateTime<Utc>, i64),
    count: u64,
    can_be_late: bool,
    late: &mut Vec<GenEvent>,
) -> Vec<GenEvent> {
    let mut events: Vec<GenEvent> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let p = pick_principal(&mut *rng, principals);
        let secs = rng.random_range(0..window * 60);
        let t = w_start + Duration::seconds(secs);
        let e = traffic::ordinary(&mut *rng, p, s.region, t);
        if rng.random_ratio(1, 100) && can_be_late {
            late.push(e);
        } else {
            events.push(e);
        }
    }
    events
}

/// The events of `v` that belong to stream `s`, taken out of it (the
/// others stay, in order).
fn take_stream(v: &mut Vec<GenEvent>, s: &Stream) -> Vec<GenEvent> {
    let (mine, rest): (Vec<GenEvent>, Vec<GenEvent>) = std::mem::take(v)
        .into_iter()
        .partition(|e| e.recipient_account_id == s.account && e.aws_region == s.region);
    *v = rest;
    mine
}

fn pick_principal<'p>(rng: &mut impl Rng, ps: &'p [Principal]) -> &'p Principal {
    let total: f64 = ps.iter().map(|p| p.weight).sum();
    let mut roll = rng.random::<f64>() * total;
    for p in ps {
        if roll < p.weight {
            return p;
        }
        roll -= p.weight;
    }
    &ps[0]
}

fn write_file(
    out: &Path,
    s: &Stream,
    delivered: DateTime<Utc>,
    rng: &mut impl Rng,
    events: &[GenEvent],
) -> Result<u64> {
    let dir = out.join(format!(
        "AWSLogs/{ORG_ID}/{}/CloudTrail/{}/{:04}/{:02}/{:02}",
        s.account,
        s.region,
        delivered.year(),
        delivered.month(),
        delivered.day()
    ));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = format!(
        "{}_CloudTrail_{}_{}_{}.json.gz",
        s.account,
        s.region,
        delivered.format("%Y%m%dT%H%MZ"),
        file_unique(rng)
    );
    let path = dir.join(name);
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
    gz.write_all(b"{\"Records\":[")?;
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            gz.write_all(b",")?;
        }
        serde_json::to_writer(&mut gz, e)?;
    }
    gz.write_all(b"]}")?;
    let mut inner = gz.finish()?;
    inner.flush()?;
    Ok(fs::metadata(&path)?.len())
}
