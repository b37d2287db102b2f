//! The security state as JSON: a report with the counts the dashboard
//! and `trailwatch state` show, and the rows of the lake's `state_*`
//! tables.

use serde_json::json;

use super::Posture;

/// One state table's rows, as the lake's `state_<table>` holds them.
pub fn rows(p: &Posture, table: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    fn with_id<T: serde::Serialize>(
        id: &str,
        item: &T,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut m = match serde_json::to_value(item) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        m.insert("id".into(), json!(id));
        m
    }
    match table {
        "buckets" => p
            .buckets
            .iter()
            .map(|(k, b)| {
                let mut m = with_id(k, b);
                m.insert("public".into(), json!(b.public()));
                m
            })
            .collect(),
        "security_groups" => p
            .security_groups
            .iter()
            .map(|(k, g)| {
                let mut m = with_id(k, g);
                let rules: Vec<&str> = g.open_to_world.iter().map(String::as_str).collect();
                m.insert("open_to_world".into(), json!(rules.join("; ")));
                m
            })
            .collect(),
        "users" => p.users.iter().map(|(k, v)| with_id(k, v)).collect(),
        "access_keys" => p.access_keys.iter().map(|(k, v)| with_id(k, v)).collect(),
        "trails" => p.trails.iter().map(|(k, v)| with_id(k, v)).collect(),
        "kms_keys" => p.kms_keys.iter().map(|(k, v)| with_id(k, v)).collect(),
        "created" => p.created.iter().map(|(k, v)| with_id(k, v)).collect(),
        _ => Vec::new(),
    }
}

/// The state as JSON: every resource, and the counts the dashboard shows.
pub fn report(p: &Posture) -> serde_json::Value {
    let public: Vec<&String> = p
        .buckets
        .iter()
        .filter(|(_, b)| b.public())
        .map(|(k, _)| k)
        .collect();
    let open: Vec<&String> = p
        .security_groups
        .iter()
        .filter(|(_, g)| !g.open_to_world.is_empty())
        .map(|(k, _)| k)
        .collect();
    let no_mfa: Vec<&String> = p
        .users
        .iter()
        .filter(|(_, u)| u.mfa_devices == 0)
        .map(|(k, _)| k)
        .collect();
    let unencrypted: Vec<&String> = p
        .created
        .iter()
        .filter(|(_, c)| c.encrypted == Some(false))
        .map(|(k, _)| k)
        .collect();
    let partial = p.buckets.values().filter(|b| b.partial).count()
        + p.security_groups.values().filter(|g| g.partial).count()
        + p.users.values().filter(|u| u.partial).count()
        + p.access_keys.values().filter(|k| k.partial).count()
        + p.trails.values().filter(|t| t.partial).count()
        + p.kms_keys.values().filter(|k| k.partial).count();
    json!({
        "summary": {
            "public_buckets": public,
            "security_groups_open_to_world": open,
            "users": p.users.len(),
            "users_without_mfa": no_mfa,
            "access_keys": p.access_keys.len(),
            "trails_not_logging": p.trails.iter().filter(|(_, t)| t.logging == Some(false)).map(|(k, _)| k).collect::<Vec<_>>(),
            "kms_keys_pending_deletion": p.kms_keys.iter().filter(|(_, k)| k.pending_deletion.is_some()).map(|(k, _)| k).collect::<Vec<_>>(),
            "created_without_encryption": unencrypted,
            "created_with_encryption": p.created.values().filter(|c| c.encrypted == Some(true)).count(),
            "partial_resources": partial,
            "events_applied": p.events,
        },
        "state": p,
    })
}
