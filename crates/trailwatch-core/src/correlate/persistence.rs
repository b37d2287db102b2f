//! Persistence outside the normal workflow: `CreateUser`,
//! `CreateAccessKey`, `CreateLoginProfile`, `UpdateLoginProfile`, or a
//! role created or changed to trust another account (or anyone), when
//! the principal is not one of the configured provisioners and
//!
//! - a provisioner allow-list is configured (it is not on it), or
//! - it happens outside the configured business hours, or
//! - the principal had made no IAM write in the `first_seen_days` before
//!   it started its current run of IAM writes (a day long).
//!
//! Allow-listed provisioners (the Terraform role, say) are the normal
//! workflow and never alert.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identity::{Sessions, json_str};
use super::policy::{parse_document, trusted_accounts};
use super::settings::Hours;
use super::{Detection, IAM_PERSISTENCE, Settings, correlation_id, iso, sql_text};
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind, Severity};
use crate::event::Record;
use crate::pattern::glob;

/// How long a run of IAM writes that began after a quiet spell counts as
/// new.
const RUN_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Write {
    identity: String,
    principal: String,
    account: String,
    ip: String,
    event_id: String,
    event_name: String,
    /// Why it is a persistence action (None: an ordinary IAM write, kept
    /// for the history).
    action: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PersistenceState {
    sessions: Sessions,
    /// Identity → (last IAM write, start of its current run), ms.
    writes: BTreeMap<String, (i64, i64)>,
    /// Identity → whether its current run began after a quiet spell.
    new_run: BTreeMap<String, bool>,
}

#[derive(Debug)]
pub struct Persistence {
    provisioners: Vec<String>,
    hours: Option<Hours>,
    first_seen_ms: i64,
    first_seen_days: u32,
    trusted: Vec<String>,
    state: PersistenceState,
}

impl Persistence {
    /// The settings must have passed [`Settings::validate`].
    pub fn new(s: &Settings) -> Persistence {
        Persistence {
            provisioners: s.provisioners.clone(),
            hours: s.validate().ok().flatten(),
            first_seen_ms: i64::from(s.first_seen_days) * 86_400_000,
            first_seen_days: s.first_seen_days,
            trusted: s.trusted_accounts.clone(),
            state: PersistenceState::default(),
        }
    }

    fn allowed(&self, w: &Write) -> bool {
        self.provisioners
            .iter()
            .any(|p| glob(p, &w.principal) || glob(p, &w.identity))
    }
}

impl Detection for Persistence {
    type Fact = Write;
    type State = PersistenceState;

    fn name(&self) -> &str {
        IAM_PERSISTENCE.id
    }

    fn fact(&mut self, r: &Record<'_>) -> Option<Write> {
        let e = &r.event;
        self.state.sessions.learn(e, r.time.timestamp_millis());
        if e.event_source.as_deref() != Some("iam.amazonaws.com") || e.error_code.is_some() {
            return None;
        }
        let name = e.event_name.as_deref()?;
        let read = e.read_only.unwrap_or_else(|| {
            ["Get", "List", "Generate", "Simulate"]
                .iter()
                .any(|p| name.starts_with(p))
        });
        if read {
            return None;
        }
        let params: Value = e
            .request_parameters
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or(Value::Null);
        let own = e.account().unwrap_or_default().to_string();
        let user = json_str(&params, &["userName"]);
        let action = match name {
            "CreateUser" => Some(format!("created user {}", user.unwrap_or("?"))),
            "CreateAccessKey" => Some(match user {
                Some(u) => format!("created an access key for {u}"),
                None => "created an access key for itself".to_string(),
            }),
            "CreateLoginProfile" => Some(format!(
                "created a console password for {}",
                user.unwrap_or("itself")
            )),
            "UpdateLoginProfile" => Some(format!(
                "changed the console password of {}",
                user.unwrap_or("itself")
            )),
            "CreateRole" | "UpdateAssumeRolePolicy" => {
                let key = if name == "CreateRole" {
                    "assumeRolePolicyDocument"
                } else {
                    "policyDocument"
                };
                let outside: Vec<String> = params
                    .get(key)
                    .and_then(parse_document)
                    .map(|d| trusted_accounts(&d))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|a| *a != own && !self.trusted.contains(a))
                    .collect();
                (!outside.is_empty()).then(|| {
                    let whom = if outside.iter().any(|a| a == "*") {
                        "anyone".to_string()
                    } else {
                        format!("account {}", outside.join(", "))
                    };
                    format!(
                        "{} role {} to trust {whom}",
                        if name == "CreateRole" {
                            "created"
                        } else {
                            "changed"
                        },
                        json_str(&params, &["roleName"]).unwrap_or("?")
                    )
                })
            }
            _ => None,
        };
        Some(Write {
            identity: self.state.sessions.identify(e)?.into_owned(),
            principal: e.principal().unwrap_or_default().to_string(),
            account: own,
            ip: e
                .source_ip_address
                .as_deref()
                .unwrap_or_default()
                .to_string(),
            event_id: e.event_id.to_string(),
            event_name: name.to_string(),
            action,
        })
    }

    fn process(&mut self, at: i64, w: Write, out: &mut Vec<Alert>) {
        // The history first: is this run of IAM writes new?
        let (last, start) = self
            .state
            .writes
            .get(&w.identity)
            .copied()
            .unwrap_or((i64::MIN, i64::MIN));
        let quiet = last == i64::MIN || at.saturating_sub(last) > self.first_seen_ms;
        let new_run = if quiet {
            self.state.new_run.insert(w.identity.clone(), true);
            self.state.writes.insert(w.identity.clone(), (at, at));
            true
        } else {
            self.state
                .writes
                .insert(w.identity.clone(), (at.max(last), start));
            self.state
                .new_run
                .get(&w.identity)
                .copied()
                .unwrap_or(false)
                && at.saturating_sub(start) <= RUN_MS
        };
        let Some(action) = &w.action else { return };
        if self.allowed(&w) {
            return;
        }
        let mut why = Vec::new();
        if !self.provisioners.is_empty() {
            why.push("not one of the provisioning identities".to_string());
        }
        if let Some(h) = &self.hours
            && chrono::DateTime::from_timestamp_millis(at).is_some_and(|t| !h.contains(t))
        {
            why.push("outside business hours".to_string());
        }
        if new_run {
            why.push(format!(
                "no IAM write by this principal in the {} days before",
                self.first_seen_days
            ));
        }
        if why.is_empty() {
            return;
        }
        let text = format!("{} {action}: {}", w.identity, why.join("; "));
        out.push(self.alert(at, &w, text));
    }

    fn expire(&mut self, now: i64, _out: &mut Vec<Alert>) {
        let keep = self.first_seen_ms;
        let st = &mut self.state;
        st.sessions.expire(now);
        st.writes
            .retain(|_, (last, _)| now.saturating_sub(*last) <= keep);
        let writes = &st.writes;
        st.new_run.retain(|k, _| writes.contains_key(k));
    }

    fn state(&self) -> &PersistenceState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut PersistenceState {
        &mut self.state
    }
}

impl Persistence {
    fn alert(&self, at: i64, w: &Write, text: String) -> Alert {
        let query = format!(
            "SELECT eventtime, eventname, sourceipaddress, requestparameters FROM cloudtrail_logs\nWHERE eventsource = 'iam.amazonaws.com' AND useridentity.arn = {} AND eventtime BETWEEN {} AND {}\nORDER BY eventtime",
            sql_text(&w.principal),
            sql_text(&iso(at - RUN_MS)),
            sql_text(&iso(at + 3_600_000)),
        );
        let dimensions = [
            ("identity", w.identity.clone()),
            ("action", w.event_name.clone()),
            ("account", w.account.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Alert {
            alert_id: correlation_id(&IAM_PERSISTENCE, &[&w.identity, &w.event_id]),
            kind: AlertKind::Correlation,
            rule_id: IAM_PERSISTENCE.id.to_string(),
            title: format!("{} outside the normal workflow", w.event_name),
            severity: Severity::P2,
            state: AlarmState::Alarm,
            time: iso(at),
            window_start: None,
            window_end: None,
            threshold: None,
            datapoints: Vec::new(),
            dimensions,
            event_ids: vec![w.event_id.clone()],
            event_count: 1,
            principals: vec![w.principal.clone()],
            source_ips: if w.ip.is_empty() { vec![] } else { vec![w.ip.clone()] },
            actions: vec![
                "Confirm the change with its owner; if unexpected, delete the user, key, password or trust and review what the principal did.".into(),
                "Run the query for the principal's IAM changes around it.".into(),
            ],
            description: format!("{text}. At {} from {}.", iso(at), if w.ip.is_empty() { "an unknown address" } else { &w.ip }),
            query: Some(query),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::cases::{Case, call, check, role_session, user, with};
    use super::super::{Ordered, Settings};
    use super::Persistence;
    use crate::detect::Detector;

    fn detector(s: &Settings) -> Box<dyn Detector> {
        Box::new(Ordered::new(Persistence::new(s)))
    }

    fn iam(
        time: &str,
        name: &str,
        who: serde_json::Value,
        params: serde_json::Value,
    ) -> serde_json::Value {
        with(call(time, "iam", name, who), "requestParameters", params)
    }

    fn trust(account: &str) -> serde_json::Value {
        json!({"roleName": "ops", "assumeRolePolicyDocument": json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]}).to_string()})
    }

    #[test]
    fn new_principals_creating_users_keys_passwords_and_trust_fire() {
        let alice = || user("alice");
        let group = |t: &str| iam(t, "CreateGroup", alice(), json!({"groupName": "g"}));
        let cases = [
            Case::fires(
                "a first IAM write creates a user",
                "user/alice created user mallory: no IAM write by this principal in the 30 days before",
                vec![iam(
                    "2024-05-01T10:00:00Z",
                    "CreateUser",
                    alice(),
                    json!({"userName": "mallory"}),
                )],
            ),
            Case::fires(
                "a write in the same new run still counts",
                "created an access key for bob",
                vec![
                    group("2024-05-01T10:00:00Z"),
                    iam(
                        "2024-05-01T12:00:00Z",
                        "CreateAccessKey",
                        alice(),
                        json!({"userName": "bob"}),
                    ),
                ],
            ),
            Case::fires(
                "reads are no history",
                "created a console password for bob",
                vec![
                    iam("2024-05-01T10:00:00Z", "ListUsers", alice(), json!({})),
                    iam(
                        "2024-05-05T10:00:00Z",
                        "CreateLoginProfile",
                        alice(),
                        json!({"userName": "bob"}),
                    ),
                ],
            ),
            Case::fires(
                "a quiet spell longer than first_seen_days starts a new run",
                "changed the console password of bob",
                vec![
                    group("2024-03-01T10:00:00Z"),
                    iam(
                        "2024-05-01T10:00:00Z",
                        "UpdateLoginProfile",
                        alice(),
                        json!({"userName": "bob"}),
                    ),
                ],
            ),
            // A regular IAM writer: only the trust is new, and that alone
            // does not make it out of the workflow.
            Case::quiet(
                "a regular IAM writer's role trusting another account, nothing else new",
                vec![
                    group("2024-04-20T10:00:00Z"),
                    iam(
                        "2024-05-01T10:00:00Z",
                        "CreateRole",
                        alice(),
                        trust("444455556666"),
                    ),
                ],
            ),
            Case::fires(
                "a new principal's role trusting another account",
                "created role ops to trust account 444455556666",
                vec![iam(
                    "2024-05-01T10:00:00Z",
                    "CreateRole",
                    alice(),
                    trust("444455556666"),
                )],
            ),
            Case::fires(
                "a session started by alice is alice",
                "user/alice created user backdoor",
                vec![
                    with(
                        with(
                            call("2024-05-01T09:00:00Z", "sts", "AssumeRole", alice()),
                            "requestParameters",
                            json!({"roleArn": "arn:aws:iam::111122223333:role/admin", "roleSessionName": "x"}),
                        ),
                        "responseElements",
                        json!({"credentials": {"accessKeyId": "ASIASESSION1"}}),
                    ),
                    iam(
                        "2024-05-01T10:00:00Z",
                        "CreateUser",
                        role_session("admin", "x", "ASIASESSION1"),
                        json!({"userName": "backdoor"}),
                    ),
                ],
            ),
        ];
        check(&cases, || detector(&Settings::default()));
    }

    #[test]
    fn regular_writers_failed_calls_and_trust_within_the_account_stay_quiet() {
        let alice = || user("alice");
        let cases = [
            Case::quiet(
                "a principal with IAM writes days before",
                vec![
                    iam(
                        "2024-05-01T10:00:00Z",
                        "CreateGroup",
                        alice(),
                        json!({"groupName": "g"}),
                    ),
                    iam(
                        "2024-05-05T10:00:00Z",
                        "CreateUser",
                        alice(),
                        json!({"userName": "carol"}),
                    ),
                ],
            ),
            Case::quiet(
                "a refused CreateUser",
                vec![with(
                    iam(
                        "2024-05-01T10:00:00Z",
                        "CreateUser",
                        alice(),
                        json!({"userName": "mallory"}),
                    ),
                    "errorCode",
                    json!("AccessDenied"),
                )],
            ),
            Case::quiet(
                "a new role trusting its own account",
                vec![iam(
                    "2024-05-01T10:00:00Z",
                    "CreateRole",
                    alice(),
                    trust(super::super::cases::ACCOUNT),
                )],
            ),
            Case::quiet(
                "an IAM write that is no persistence",
                vec![iam(
                    "2024-05-01T10:00:00Z",
                    "AttachGroupPolicy",
                    alice(),
                    json!({"groupName": "g"}),
                )],
            ),
        ];
        check(&cases, || detector(&Settings::default()));
        let trusted = Settings {
            trusted_accounts: vec!["444455556666".into()],
            ..Settings::default()
        };
        check(
            &[Case::quiet(
                "a new role trusting a trusted account",
                vec![iam(
                    "2024-05-01T10:00:00Z",
                    "CreateRole",
                    alice(),
                    trust("444455556666"),
                )],
            )],
            || detector(&trusted),
        );
    }

    #[test]
    fn provisioners_and_business_hours_decide_for_regular_writers() {
        let settings = Settings {
            provisioners: vec!["arn:aws:iam::*:role/terraform".into()],
            business_hours: Some("09:00-17:00".into()),
            business_days: Some("mon-fri".into()),
            ..Settings::default()
        };
        settings.validate().unwrap();
        let history = |who: serde_json::Value| {
            iam(
                "2024-04-25T10:00:00Z",
                "CreateGroup",
                who,
                json!({"groupName": "g"}),
            )
        };
        let tf = || role_session("terraform", "run-1", "ASIATERRAFORM");
        let cases = [
            Case::quiet(
                "the provisioner, any day",
                vec![
                    history(tf()),
                    // 2024-05-04 is a Saturday.
                    iam(
                        "2024-05-04T03:00:00Z",
                        "CreateUser",
                        tf(),
                        json!({"userName": "svc"}),
                    ),
                ],
            ),
            Case::fires(
                "anyone else, on a Tuesday at ten",
                "not one of the provisioning identities",
                vec![
                    history(user("alice")),
                    iam(
                        "2024-05-07T10:00:00Z",
                        "CreateUser",
                        user("alice"),
                        json!({"userName": "svc"}),
                    ),
                ],
            ),
            Case::fires(
                "anyone else, on a Saturday night",
                "not one of the provisioning identities; outside business hours",
                vec![
                    history(user("alice")),
                    iam(
                        "2024-05-04T03:00:00Z",
                        "CreateUser",
                        user("alice"),
                        json!({"userName": "svc"}),
                    ),
                ],
            ),
        ];
        check(&cases, || detector(&settings));
    }
}
