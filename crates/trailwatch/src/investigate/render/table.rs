//! The report for a terminal: one section per part, the timeline with
//! alike events collapsed ("GetObject ×240 on arn:aws:s3:::b,
//! 03:30:00–03:34:00"). Every value passes through `escape_controls`: a
//! record's text cannot move the cursor or recolour the terminal.

use std::io::Write;

use anyhow::Result;
use trailwatch_core::investigate::Report;
use trailwatch_core::terminal::escape_controls;

/// Record text as shown: control characters escaped, at most `max`
/// characters.
fn shown(s: &str, max: usize) -> String {
    let s = escape_controls(s);
    if s.chars().count() <= max {
        s.into_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn opt(v: &Option<String>, max: usize) -> String {
    v.as_deref()
        .map_or_else(|| "-".to_string(), |s| shown(s, max))
}

/// `HH:MM:SS` of an event time (the end of a run, whose day is its start's).
fn clock(t: &str) -> &str {
    t.get(11..19).unwrap_or(t)
}

fn rows(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = String>| -> String {
        let parts: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(c.chars().count()))))
            .collect();
        format!("  {}", parts.join("  ").trim_end())
    };
    writeln!(out, "{}", line(&mut header.iter().map(|h| h.to_string())))?;
    for r in rows {
        writeln!(out, "{}", line(&mut r.iter().cloned()))?;
    }
    if rows.is_empty() {
        writeln!(out, "  (none)")?;
    }
    Ok(())
}

pub fn write(report: &Report, out: &mut dyn Write) -> Result<()> {
    let window = match (&report.since, &report.until) {
        (None, None) => "the whole trail".to_string(),
        (s, u) => format!(
            "{} to {}",
            s.as_deref().unwrap_or("the start"),
            u.as_deref().unwrap_or("the end")
        ),
    };
    writeln!(
        out,
        "Investigation of {} ({window}, credentials followed {} hops)",
        shown(&report.subject.describe(), 120),
        report.depth
    )?;
    for note in &report.notes {
        writeln!(out, "note: {}", shown(note, 400))?;
    }
    if report.is_empty() {
        return Ok(());
    }
    write_credentials(report, out)?;
    write_timeline(report, out)?;
    write_findings(report, out)?;
    write_sightings(report, out)?;
    writeln!(out, "\nALERTS ({})", report.alerts.len())?;
    let alerts: Vec<Vec<String>> = report
        .alerts
        .iter()
        .map(|a| {
            vec![
                opt(&a.alert_time, 30),
                shown(&a.severity, 4),
                shown(&a.rule_id, 40),
                opt(&a.title, 70),
                shown(&a.alert_id, 40),
            ]
        })
        .collect();
    rows(out, &["TIME", "SEV", "RULE", "TITLE", "ALERT ID"], &alerts)?;
    if !report.not_followed.is_empty() {
        writeln!(out, "\nNOT FOLLOWED (depth limit {})", report.depth)?;
        let nf: Vec<Vec<String>> = report
            .not_followed
            .iter()
            .map(|n| {
                vec![
                    shown(&n.access_key_id, 32),
                    shown(&n.parent, 32),
                    shown(&n.issued_by_event, 40),
                ]
            })
            .collect();
        rows(out, &["KEY", "MINTED BY", "ISSUING EVENT"], &nf)?;
    }
    Ok(())
}

/// Addresses, agents, regions and accounts, with when the trail first
/// saw each; `NEW` marks those first seen with this story.
fn write_sightings(report: &Report, out: &mut dyn Write) -> Result<()> {
    let new = |n: bool| if n { "NEW" } else { "" }.to_string();
    writeln!(out, "\nSOURCE IPS ({})", report.source_ips.len())?;
    let ips: Vec<Vec<String>> = report
        .source_ips
        .iter()
        .map(|s| {
            vec![
                shown(&s.ip, 40),
                s.events.to_string(),
                shown(&s.first_seen, 25),
                shown(&s.last_seen, 25),
                opt(&s.first_seen_in_lake, 25),
                new(s.new),
                opt(&s.geo, 40),
            ]
        })
        .collect();
    rows(
        out,
        &[
            "IP",
            "EVENTS",
            "FIRST",
            "LAST",
            "FIRST IN LAKE",
            "",
            "PLACE",
        ],
        &ips,
    )?;
    for (title, list) in [
        ("USER AGENTS", &report.user_agents),
        ("REGIONS", &report.regions),
        ("ACCOUNTS", &report.accounts),
    ] {
        writeln!(out, "\n{title} ({})", list.len())?;
        let r: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                vec![
                    shown(&s.value, 80),
                    s.events.to_string(),
                    shown(&s.first_seen, 25),
                    opt(&s.first_seen_in_lake, 25),
                    new(s.new),
                ]
            })
            .collect();
        rows(out, &["VALUE", "EVENTS", "FIRST", "FIRST IN LAKE", ""], &r)?;
    }
    Ok(())
}

fn write_credentials(report: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "\nCREDENTIALS ({})", report.credentials.len())?;
    let creds: Vec<Vec<String>> = report
        .credentials
        .iter()
        .map(|c| {
            vec![
                shown(&c.access_key_id, 32),
                c.kind.as_str().into(),
                c.depth.to_string(),
                opt(&c.principal, 70),
                opt(&c.parent, 32),
                opt(&c.issued_by_event, 40),
                c.events.to_string(),
                opt(&c.first_seen, 25),
                opt(&c.last_seen, 25),
            ]
        })
        .collect();
    rows(
        out,
        &[
            "KEY",
            "KIND",
            "HOP",
            "PRINCIPAL",
            "MINTED BY",
            "ISSUING EVENT",
            "EVENTS",
            "FIRST",
            "LAST",
        ],
        &creds,
    )?;
    Ok(())
}

/// The timeline, alike events collapsed into runs.
fn write_timeline(report: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "\nTIMELINE ({} events)", report.events.len())?;
    let runs: Vec<Vec<String>> = report
        .runs()
        .iter()
        .map(|r| {
            let e = r.first;
            let what = if r.count > 1 {
                format!("{} ×{}", e.event_name, r.count)
            } else {
                e.event_name.clone()
            };
            let time = if r.count > 1 {
                format!("{}–{}", e.event_time, clock(r.last_time))
            } else {
                e.event_time.clone()
            };
            vec![
                shown(&time, 40),
                opt(&e.account, 12),
                shown(&e.region, 16),
                shown(&what, 48),
                opt(&e.resource, 60),
                opt(&e.source_ip, 40),
                opt(&e.access_key_id, 24),
                opt(&e.error_code, 24),
                shown(&e.alerts.join(", "), 60),
            ]
        })
        .collect();
    rows(
        out,
        &[
            "TIME",
            "ACCOUNT",
            "REGION",
            "EVENT",
            "RESOURCE",
            "SOURCE IP",
            "KEY",
            "ERROR",
            "ALERTS",
        ],
        &runs,
    )?;
    Ok(())
}

/// Resources, what was created, tampering.
fn write_findings(report: &Report, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "\nRESOURCES ({})", report.resources.len())?;
    let res: Vec<Vec<String>> = report
        .resources
        .iter()
        .map(|r| {
            vec![
                shown(&r.resource, 100),
                r.reads.to_string(),
                r.writes.to_string(),
            ]
        })
        .collect();
    rows(out, &["RESOURCE", "READS", "WRITES"], &res)?;
    writeln!(out, "\nCREATED ({})", report.created.len())?;
    let created: Vec<Vec<String>> = report
        .created
        .iter()
        .map(|c| {
            vec![
                c.kind.to_string(),
                shown(&c.name, 100),
                shown(&c.event_id, 40),
            ]
        })
        .collect();
    rows(out, &["KIND", "NAME", "EVENT"], &created)?;
    writeln!(out, "\nTAMPERING ({})", report.tampering.len())?;
    let tampering: Vec<Vec<String>> = report
        .tampering
        .iter()
        .map(|t| {
            vec![
                shown(&t.event_time, 30),
                shown(&t.event_name, 40),
                opt(&t.error_code, 30),
                shown(&t.event_id, 40),
            ]
        })
        .collect();
    rows(out, &["TIME", "EVENT", "ERROR", "EVENT ID"], &tampering)?;
    Ok(())
}
