//! CloudTrail trails: created, deleted, and whether they log.

use super::{Call, Posture, Trail, text};

pub(super) const CHANGES: &[&str] = &["CreateTrail", "DeleteTrail", "StartLogging", "StopLogging"];

pub(super) fn apply(p: &mut Posture, c: &Call<'_>) {
    let Some(trail) = text(&c.rp, "name") else {
        return;
    };
    // A trail is named by its name or its ARN: keep the name.
    let short = trail.rsplit('/').next().unwrap_or(&trail);
    let key = c.key(short);
    if c.name == "DeleteTrail" {
        p.trails.remove(&key);
        return;
    }
    let t = p.trails.entry(key).or_insert_with(|| Trail {
        account: c.account.clone(),
        region: c.region.clone(),
        partial: c.name != "CreateTrail",
        ..Trail::default()
    });
    t.changed = c.time.clone();
    t.logging = Some(match c.name {
        "StartLogging" => true,
        "StopLogging" | "CreateTrail" => false,
        _ => t.logging.unwrap_or(false),
    });
}
