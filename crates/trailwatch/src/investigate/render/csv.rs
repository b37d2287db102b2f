//! One row per timeline event, with Suzaku's column names where it has
//! them (`Timestamp`, `RuleTitle`, `EventName`, `EventSource`,
//! `AWS-Region`, `SrcIP`, `UserAgent`, `UserARN`, `UserAccessKeyID`,
//! `ErrorCode`, `EventID`), so timelines from both tools line up.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Result;
use trailwatch_core::investigate::Report;

pub const COLUMNS: [&str; 14] = [
    "Timestamp",
    "RuleTitle",
    "EventName",
    "EventSource",
    "AWS-Region",
    "AccountID",
    "SrcIP",
    "UserAgent",
    "UserARN",
    "UserAccessKeyID",
    "ErrorCode",
    "ReadOnly",
    "Resource",
    "EventID",
];

/// A cell a spreadsheet will not run: text starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return gets a leading `'` (OWASP's advice
/// against CSV injection).
pub fn defused(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A CSV error as the I/O error it wraps, when it is one: a closed
/// stdout (`| head`) must stay recognisable as a broken pipe.
fn io_error(e: ::csv::Error) -> anyhow::Error {
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => io.into(),
        other => anyhow::anyhow!("writing CSV: {other:?}"),
    }
}

pub fn write(report: &Report, out: &mut dyn Write) -> Result<()> {
    write_rows(report, out).map_err(io_error)
}

fn write_rows(report: &Report, out: &mut dyn Write) -> Result<(), ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for e in &report.events {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let row = [
            e.event_time.clone(),
            e.alerts.join(" | "),
            e.event_name.clone(),
            e.event_source.clone(),
            e.region.clone(),
            opt(&e.account),
            opt(&e.source_ip),
            opt(&e.user_agent),
            opt(&e.principal),
            opt(&e.access_key_id),
            opt(&e.error_code),
            e.read_only.map(|r| r.to_string()).unwrap_or_default(),
            opt(&e.resource),
            e.event_id.clone(),
        ];
        w.write_record(row.iter().map(|c| defused(c).into_owned()))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_plain_text_is_not() {
        assert_eq!(defused("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defused("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defused("-1+1"), "'-1+1");
        assert_eq!(defused("aws-cli/2"), "aws-cli/2");
    }
}
