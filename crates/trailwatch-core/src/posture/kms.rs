//! KMS keys: scheduled for deletion (and cancelled), disabled, enabled.

use super::{Call, KmsKey, Posture, text};

pub(super) const CHANGES: &[&str] = &[
    "CreateKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "DisableKey",
    "EnableKey",
];

pub(super) fn apply(p: &mut Posture, c: &Call<'_>) {
    let key_id =
        c.re.get("keyMetadata")
            .and_then(|m| text(m, "keyId"))
            .or_else(|| text(&c.rp, "keyId"));
    let Some(key_id) = key_id else { return };
    let short = key_id.rsplit('/').next().unwrap_or(&key_id);
    let k = p.kms_keys.entry(c.key(short)).or_insert_with(|| KmsKey {
        account: c.account.clone(),
        region: c.region.clone(),
        partial: c.name != "CreateKey",
        ..KmsKey::default()
    });
    k.changed = c.time.clone();
    match c.name {
        "ScheduleKeyDeletion" => {
            k.pending_deletion =
                Some(text(&c.re, "deletionDate").unwrap_or_else(|| "scheduled".into()));
        }
        "CancelKeyDeletion" => k.pending_deletion = None,
        "DisableKey" => k.disabled = true,
        "EnableKey" => k.disabled = false,
        _ => {}
    }
}
