//! One detection pipeline for `detect`, `watch` and `serve`:
//! inputs → decode → the event-time check → every [`Detector`] → every
//! [`AlertOutput`]. The commands only find inputs and drive it.
//!
//! Each record is first checked for a believable time
//! ([`trailwatch_core::detect::clock`]); then every detector observes it.
//! Event time advances per trail prefix ([`watermark`]); the watcher
//! advances the detectors after each input, a replay only at the end.
//!
//! The pipeline is synchronous CPU work. From async code (the server),
//! drive it on a blocking thread (`spawn_blocking`), where fetching S3
//! objects through the runtime's handle is allowed.

pub mod checkpoint;
pub mod dedup;
pub mod follow;
pub mod output;
pub mod replay;
pub mod retry;
pub mod shard;
pub mod watch;
pub mod watermark;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use trailwatch_core::alarm::minute_of;
use trailwatch_core::alert::Alert;
use trailwatch_core::detect::{Detector, Seen, clock};
use trailwatch_core::event::{Decoder, Record, TimeBounds};

use crate::source::{Input, each_decoded};
use dedup::EventDedup;
use output::AlertOutput;
use watermark::Watermarks;

#[derive(serde::Serialize, serde::Deserialize)]
struct SavedHeader {
    version: u32,
    detectors: Vec<(String, usize)>,
    watermarks: std::collections::BTreeMap<String, i64>,
}

/// Detectors, outputs and event-time progress.
pub struct Pipeline<'a> {
    detectors: Vec<Box<dyn Detector>>,
    outputs: Vec<Box<dyn AlertOutput + 'a>>,
    marks: Watermarks,
    lateness_ms: i64,
    /// With several ways in for one event (pushed and read from the
    /// trail): each event id observed once.
    dedup: Option<EventDedup>,
    /// Alerts sent to the outputs since the pipeline was made.
    emitted: u64,
}

/// The name of the dedup's part in the saved state (not a detector's).
const DEDUP_PART: &str = "pipeline.event-dedup";

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("detectors", &self.detectors)
            .field(
                "outputs",
                &self.outputs.iter().map(|o| o.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The trail prefix a record belongs to: its file's account and region
/// when the file's key says, else the record's own.
fn prefix_of(input: Option<&Input>, r: &Record<'_>) -> (String, String) {
    match input.and_then(Input::trail_key) {
        Some(k) => (k.account.clone(), k.region.clone()),
        None => (
            r.event.account().unwrap_or_default().to_string(),
            r.event.aws_region.to_string(),
        ),
    }
}

impl<'a> Pipeline<'a> {
    /// A pipeline over `detectors`; alarms wait `lateness_secs` behind the
    /// slowest prefix heard from within `idle`.
    pub fn new(detectors: Vec<Box<dyn Detector>>, lateness_secs: i64, idle: Duration) -> Self {
        Pipeline {
            detectors,
            outputs: Vec::new(),
            marks: Watermarks::new(idle),
            lateness_ms: lateness_secs.saturating_mul(1000),
            dedup: None,
            emitted: 0,
        }
    }

    /// Observe each event id once within `window` of event time (see
    /// [`dedup`]).
    pub fn with_dedup(mut self, window: Duration) -> Self {
        self.dedup = Some(EventDedup::new(window.as_millis() as i64));
        self
    }

    /// Copies skipped by the dedup so far.
    pub fn duplicates(&self) -> u64 {
        self.dedup.as_ref().map_or(0, |d| d.skipped)
    }

    /// Also send alerts to `output` (outputs receive alerts in the order
    /// they were added).
    pub fn with_output(mut self, output: Box<dyn AlertOutput + 'a>) -> Self {
        self.outputs.push(output);
        self
    }

    /// One record through the time check and every detector.
    pub fn observe(
        &mut self,
        input: Option<&Input>,
        r: &Record<'_>,
        bounds: &TimeBounds,
        out: &mut Vec<Alert>,
    ) {
        if let Some(d) = &mut self.dedup
            && !d.first(&r.event.event_id, r.time.timestamp_millis())
        {
            return;
        }
        let odd = clock::check(r, bounds);
        let seen = Seen {
            in_time: odd.is_none(),
        };
        out.extend(odd);
        for d in &mut self.detectors {
            d.observe(r, &seen, out);
        }
        if seen.in_time {
            self.marks
                .note(prefix_of(input, r), r.time.timestamp_millis());
        }
    }

    /// `input` is waiting to be read: its trail prefix holds evaluation
    /// back until it is (see [`watermark`]). Inputs outside the trail
    /// layout name no prefix and are not waited for.
    pub fn expect(&mut self, input: &Input) {
        if let Some(k) = input.trail_key() {
            self.marks.expect((k.account.clone(), k.region.clone()));
        }
    }

    /// Every record of one decoded input; returns how many problems the
    /// decoder reported (logged as they came).
    pub fn take(&mut self, input: &Input, dec: Decoder, out: &mut Vec<Alert>) -> u64 {
        let bounds = input.time_bounds(chrono::Utc::now());
        each_decoded(dec, |r| {
            self.observe(Some(input), r, &bounds, out);
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap_or_else(|never| match never {})
    }

    /// Evaluate what waits on event time, up to the watermark minus the
    /// lateness.
    pub fn advance(&mut self, out: &mut Vec<Alert>) {
        if let Some(w) = self.marks.watermark() {
            let minute = minute_of(w.saturating_sub(self.lateness_ms));
            for d in &mut self.detectors {
                d.advance(minute, out);
            }
        }
    }

    /// A replay has read every file of `input`'s trail prefix: the prefix
    /// stops holding evaluation back.
    pub fn prefix_read(&mut self, input: &Input) {
        if let Some(k) = input.trail_key() {
            self.marks.retire(&(k.account.clone(), k.region.clone()));
        }
    }

    /// A replay knows that no event before `ms` is still to come (the
    /// lake is read a day at a time): evaluate what waits on time up to
    /// the last minute before it, whatever the watermark.
    pub fn advance_to(&mut self, ms: i64, out: &mut Vec<Alert>) {
        let minute = minute_of(ms) - 1;
        for d in &mut self.detectors {
            d.advance(minute, out);
        }
    }

    /// The data has ended: evaluate everything still pending.
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        for d in &mut self.detectors {
            d.finish(out);
        }
    }

    /// The state of every detector and the watermarks, as bytes: a JSON
    /// header line naming each detector's part and its length, then the
    /// parts as the detectors wrote them.
    pub fn save(&self) -> Result<Vec<u8>> {
        let mut parts = Vec::new();
        let mut body = Vec::new();
        for d in &self.detectors {
            let bytes = d.save()?;
            parts.push((d.name().to_string(), bytes.len()));
            body.extend_from_slice(&bytes);
        }
        if let Some(d) = &self.dedup {
            let bytes = d.save()?;
            parts.push((DEDUP_PART.to_string(), bytes.len()));
            body.extend_from_slice(&bytes);
        }
        let header = SavedHeader {
            version: 1,
            detectors: parts,
            watermarks: self.marks.save(),
        };
        let mut out = serde_json::to_vec(&header)?;
        out.push(b'\n');
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Continue from [`Pipeline::save`]'s bytes (detectors matched by name).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<()> {
        let nl = bytes
            .iter()
            .position(|b| *b == b'\n')
            .context("the saved state has no header")?;
        let header: SavedHeader =
            serde_json::from_slice(&bytes[..nl]).context("the saved state's header")?;
        if header.version != 1 {
            bail!("the saved state has unknown version {}", header.version);
        }
        let mut at = nl + 1;
        for (name, len) in &header.detectors {
            let part = bytes
                .get(at..at + len)
                .context("the saved state is cut short")?;
            at += len;
            if name == DEDUP_PART {
                if let Some(d) = &mut self.dedup {
                    d.restore(part)?;
                }
            } else if let Some(d) = self.detectors.iter_mut().find(|d| d.name() == name) {
                d.restore(part)?;
            }
        }
        self.marks.restore(&header.watermarks);
        Ok(())
    }

    /// Send alerts to every output, durably.
    pub fn emit(&mut self, alerts: &[Alert]) -> Result<()> {
        for o in &mut self.outputs {
            o.emit(alerts)?;
        }
        self.emitted += alerts.len() as u64;
        Ok(())
    }

    /// Alerts sent to the outputs since the pipeline was made (not
    /// counting those of earlier runs restored from a checkpoint).
    pub fn emitted(&self) -> u64 {
        self.emitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch_core::event::DecodeOptions;
    use trailwatch_core::rules::{Engine, pack};

    /// The server will drive the pipeline from inside a tokio runtime: on a
    /// blocking thread it runs (and may fetch through the runtime's handle)
    /// without the "cannot block the current thread" panic, and gives the
    /// same alerts as on a plain thread.
    #[test]
    fn the_pipeline_runs_on_a_blocking_thread_of_a_runtime() {
        let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/sample-trail");
        let run = move || -> Vec<String> {
            let found =
                crate::source::discover(&[sample.display().to_string()], false).expect("discovers");
            let engine: Box<dyn Detector> = Box::new(Engine::new(pack("all").expect("packs")));
            let mut p = Pipeline::new(vec![engine], 0, Duration::MAX);
            let mut alerts = Vec::new();
            for input in &found.inputs {
                let fetched = input.fetch().expect("fetches");
                let dec = fetched.open(DecodeOptions::default()).expect("opens");
                p.take(input, dec, &mut alerts);
            }
            p.finish(&mut alerts);
            let mut ids: Vec<String> = alerts.into_iter().map(|a| a.alert_id).collect();
            ids.sort();
            ids
        };
        let plain = std::thread::spawn(run.clone())
            .join()
            .expect("plain thread");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let served = rt
            .block_on(async move { tokio::task::spawn_blocking(run).await })
            .expect("blocking thread");
        assert!(plain.len() > 10);
        assert_eq!(plain, served);
    }
}
