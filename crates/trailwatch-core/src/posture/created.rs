//! Resources created with or without encryption: EBS volumes and RDS
//! instances.

use serde_json::Value;

use super::{Call, Created, Posture, text};

pub(super) const CHANGES: &[&str] = &["CreateVolume", "CreateDBInstance"];

pub(super) fn apply(p: &mut Posture, c: &Call<'_>) {
    let (kind, name, encrypted) = match c.name {
        "CreateVolume" => (
            "ebs-volume",
            text(&c.re, "volumeId").unwrap_or_else(|| c.event_id.to_string()),
            c.re.get("encrypted")
                .or_else(|| c.rp.get("encrypted"))
                .and_then(Value::as_bool),
        ),
        "CreateDBInstance" => {
            let Some(db) = text(&c.rp, "dBInstanceIdentifier") else {
                return;
            };
            (
                "rds-instance",
                db,
                c.rp.get("storageEncrypted").and_then(Value::as_bool),
            )
        }
        _ => return,
    };
    p.created.insert(
        c.key(&name),
        Created {
            kind: kind.into(),
            account: c.account.clone(),
            region: c.region.clone(),
            encrypted: Some(encrypted.unwrap_or(false)),
            created: c.time.clone(),
        },
    );
}
