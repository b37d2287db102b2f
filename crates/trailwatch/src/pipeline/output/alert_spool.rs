//! Alerts in time order with bounded memory. `detect` prints alerts
//! sorted by time, rule and id, but a broad rule over a large trail can
//! raise millions of them. Each alert is rendered once, in the output
//! format, into a [`Rendered`] line kept with its sort key; past
//! [`SPILL_AT`] lines held in memory, they are sorted and written to a
//! temporary run file, and the runs are merged at the end. Run files are
//! unlinked as soon as they are made (read back through the open
//! handle), so nothing is left behind even if the process is killed.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};

use trailwatch_core::alert::Alert;

/// How many alerts are held before they are rendered and a run is
/// written: about 80 MB at the ~2.5 KB an alert takes in memory.
pub const SPILL_AT: usize = 32_768;

/// One alert as printed, with what it sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub time: String,
    pub rule_id: String,
    pub alert_id: String,
    pub text: String,
}

impl Rendered {
    pub fn new(a: &Alert, text: String) -> Rendered {
        Rendered {
            time: a.time.clone(),
            rule_id: a.rule_id.clone(),
            alert_id: a.alert_id.clone(),
            text,
        }
    }
}

/// The order alerts are printed in: time, rule, id.
pub fn order(a: &Rendered, b: &Rendered) -> Ordering {
    a.time
        .cmp(&b.time)
        .then(a.rule_id.cmp(&b.rule_id))
        .then(a.alert_id.cmp(&b.alert_id))
}

/// Run files hold each field as a little-endian u32 length and its bytes.
fn put(w: &mut impl Write, s: &str) -> io::Result<()> {
    let n = u32::try_from(s.len()).map_err(|_| io::Error::other("an alert of over 4 GiB"))?;
    w.write_all(&n.to_le_bytes())?;
    w.write_all(s.as_bytes())
}

/// One field back; None at the clean end of the file.
fn take(r: &mut impl Read) -> io::Result<Option<String>> {
    let mut n = [0u8; 4];
    match r.read_exact(&mut n) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; u32::from_le_bytes(n) as usize];
    r.read_exact(&mut buf)?;
    String::from_utf8(buf).map(Some).map_err(io::Error::other)
}

/// How many runs of one level are merged into one run of the next: fewer
/// than this many files per level are open, and each alert is rewritten
/// once per level (log base 64 of the number of runs: a 2M-alert detect
/// merges nothing early, a billion alerts twice).
const FAN_IN: usize = 64;

/// Sorted runs written so far, each with its level (0: spilled from
/// memory; n + 1: merged from FAN_IN runs of level n).
#[derive(Debug, Default)]
pub struct AlertSpool {
    runs: Vec<(u32, File)>,
}

/// A temporary file, already unlinked.
fn anonymous_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for _ in 0..16 {
        let path = dir.join(format!(
            "trailwatch-alerts-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                // Unix keeps the data while the handle is open.
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "could not create a temporary file for alerts",
    ))
}

impl AlertSpool {
    /// Sort `alerts` and write them as a run, leaving `alerts` empty.
    pub fn spill(&mut self, alerts: &mut Vec<Rendered>) -> io::Result<()> {
        alerts.sort_by(order);
        let file = write_run(alerts.drain(..).map(Ok))?;
        self.runs.push((0, file));
        // Keep the number of open runs logarithmic in the alerts spilled.
        let mut level = 0;
        loop {
            let same: Vec<usize> = (0..self.runs.len())
                .filter(|&i| self.runs[i].0 == level)
                .collect();
            if same.len() < FAN_IN {
                return Ok(());
            }
            let mut files = Vec::new();
            for &i in same.iter().rev() {
                files.push(self.runs.remove(i).1);
            }
            files.reverse();
            let merged = write_run(merge_sources(
                files
                    .into_iter()
                    .map(|f| Source::Run(BufReader::new(f)))
                    .collect(),
            ))?;
            self.runs.push((level + 1, merged));
            level += 1;
        }
    }

    /// Every alert, the runs and `rest` merged, in [`order`].
    pub fn merge(self, mut rest: Vec<Rendered>) -> Merged {
        rest.sort_by(order);
        let mut sources: Vec<Source> = self
            .runs
            .into_iter()
            .map(|(_, f)| Source::Run(BufReader::new(f)))
            .collect();
        sources.push(Source::Memory(rest.into_iter()));
        merge_sources(sources)
    }
}

/// Write alerts (in order) to a new run file, ready to be read back.
fn write_run(alerts: impl Iterator<Item = io::Result<Rendered>>) -> io::Result<File> {
    let mut file = anonymous_file()?;
    {
        let mut w = BufWriter::new(&mut file);
        for a in alerts {
            let a = a?;
            for field in [&a.time, &a.rule_id, &a.alert_id, &a.text] {
                put(&mut w, field)?;
            }
        }
        w.flush()?;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

fn merge_sources(mut sources: Vec<Source>) -> Merged {
    let mut heap = BinaryHeap::new();
    let mut error = None;
    for (i, s) in sources.iter_mut().enumerate() {
        match s.next() {
            Some(Ok(a)) => heap.push(Reverse(Head {
                alert: a,
                source: i,
            })),
            Some(Err(e)) => error = Some(e),
            None => {}
        }
    }
    Merged {
        sources,
        heap,
        error,
    }
}

enum Source {
    Run(BufReader<File>),
    Memory(std::vec::IntoIter<Rendered>),
}

fn read_one(r: &mut impl Read) -> io::Result<Option<Rendered>> {
    let Some(time) = take(r)? else {
        return Ok(None);
    };
    let mut field = || take(r)?.ok_or_else(|| io::Error::other("a run file ends mid-alert"));
    Ok(Some(Rendered {
        time,
        rule_id: field()?,
        alert_id: field()?,
        text: field()?,
    }))
}

impl Source {
    fn next(&mut self) -> Option<io::Result<Rendered>> {
        match self {
            Source::Memory(it) => it.next().map(Ok),
            Source::Run(r) => read_one(r).transpose(),
        }
    }
}

/// The next alert of one source, ordered for the merge (ties go to the
/// earlier source, as a stable sort would keep them).
struct Head {
    alert: Rendered,
    source: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        order(&self.alert, &other.alert).then(self.source.cmp(&other.source))
    }
}

/// The merged alerts, as an iterator.
pub struct Merged {
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<Head>>,
    error: Option<io::Error>,
}

impl Iterator for Merged {
    type Item = io::Result<Rendered>;

    fn next(&mut self) -> Option<io::Result<Rendered>> {
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        let Reverse(head) = self.heap.pop()?;
        match self.sources[head.source].next() {
            Some(Ok(a)) => self.heap.push(Reverse(Head {
                alert: a,
                source: head.source,
            })),
            Some(Err(e)) => self.error = Some(e),
            None => {}
        }
        Some(Ok(head.alert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwatch_core::alarm::AlarmState;
    use trailwatch_core::alert::{AlertKind, Severity};

    fn alert(time: &str, rule: &str, id: &str) -> Rendered {
        let a = Alert {
            alert_id: id.into(),
            kind: AlertKind::Finding,
            rule_id: rule.into(),
            title: "t".into(),
            severity: Severity::P3,
            state: AlarmState::Alarm,
            time: time.into(),
            window_start: None,
            window_end: None,
            threshold: Some(0.1 + 0.2),
            datapoints: vec![Some(1.0 / 3.0), None],
            dimensions: [("k".to_string(), "v\n\"x\"".to_string())].into(),
            event_ids: vec!["e".into()],
            event_count: 1,
            principals: Vec::new(),
            source_ips: Vec::new(),
            actions: Vec::new(),
            description: String::new(),
            query: None,
        };
        let text = serde_json::to_string_pretty(&a).expect("json");
        Rendered::new(&a, text)
    }

    /// Spilled runs and the rest merge into exactly what sorting all of
    /// them in memory gives, every field intact.
    #[test]
    fn runs_merge_into_the_in_memory_order() {
        let all: Vec<Rendered> = (0..10_000u32)
            .map(|i| {
                let t = format!("2024-05-01T10:{:02}:{:02}Z", (i * 7919) % 60, (i * 31) % 60);
                alert(
                    &t,
                    &format!("r{}", i % 3),
                    &format!("{:04}", (i * 13) % 1000),
                )
            })
            .collect();
        let mut expected = all.clone();
        expected.sort_by(order);
        let mut spool = AlertSpool::default();
        let mut buf = Vec::new();
        for a in all {
            buf.push(a);
            if buf.len() == 64 {
                spool.spill(&mut buf).expect("spill");
            }
        }
        // 156 runs spilled: twice 64 merged into a level-1 run, 28 left
        // at level 0.
        let levels: Vec<u32> = spool.runs.iter().map(|r| r.0).collect();
        assert_eq!(levels.iter().filter(|&&l| l == 1).count(), 2, "{levels:?}");
        assert_eq!(levels.iter().filter(|&&l| l == 0).count(), 28, "{levels:?}");
        let got: Vec<Rendered> = spool.merge(buf).collect::<io::Result<_>>().expect("merge");
        assert_eq!(got, expected);
    }
}
