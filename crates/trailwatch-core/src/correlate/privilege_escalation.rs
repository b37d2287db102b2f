//! Privilege escalation: a principal grants itself more power, directly
//! or through one hop.
//!
//! - An admin or privileged policy (AdministratorAccess, IAMFullAccess, an
//!   inline `*:*`) attached to or put on itself, a group it was seen
//!   joining, or a role it was seen assuming (or whose session it is).
//! - Joining a group known to hold admin power.
//! - `CreatePolicyVersion` with `setAsDefault` on a policy attached to
//!   itself, or with a document granting admin.
//! - A console password or access key made for a user known to be more
//!   privileged than itself; any other user's password reset
//!   (`UpdateLoginProfile`: the account is taken over).
//! - `UpdateAssumeRolePolicy` opening a role to itself, then `AssumeRole`
//!   of that role within the window.
//! - The broad signal: within the window, calls to more than a share of
//!   the known escalation APIs, AccessDenied refusals before a success
//!   weighing more.
//!
//! What is known about who holds which power comes from the events seen
//! (and the history a `detect --lake L --since 30d` replays first).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event_id::EventId;
use super::identity::{Sessions, json_str};
use super::policy::{grants_admin, is_privileged_arn, parse_document, trusted_accounts};
use super::{Detection, PRIVILEGE_ESCALATION, Settings, correlation_id, iso, sql_text};
use crate::alarm::AlarmState;
use crate::alert::{Alert, AlertKind, EVIDENCE_IDS, Severity};
use crate::event::Record;

/// The APIs of the known privilege-escalation paths (Rhino Security
/// Labs' catalogue of IAM escalation methods, by the calls they make).
pub const ESCALATION_APIS: &[&str] = &[
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "AddUserToGroup",
    "UpdateAssumeRolePolicy",
    "CreateFunction20150331",
    "UpdateFunctionCode20150331v2",
    "CreateDevEndpoint",
    "UpdateDevEndpoint",
    "CreateStack",
    "CreatePipeline",
    "CreateInstanceProfile",
];

/// What the detection keeps of a record.
/// A call in an identity's window: (time, API, refused, event id). A
/// busy trail holds tens of thousands (every refused call of a day), so
/// the API is boxed (no spare capacity) and the id packed.
type WindowCall = (i64, Box<str>, bool, EventId);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    identity: String,
    principal: String,
    /// The caller's own IAM user name, when it is an IAM user.
    user: Option<String>,
    account: String,
    event_id: String,
    event_name: String,
    ip: String,
    /// `errorCode`, if the call failed.
    error: Option<String>,
    /// `requestParameters`, for the calls whose parameters matter.
    params: Option<Value>,
}

/// A step of a story, for the alert's explanation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    at: i64,
    event_id: String,
    text: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EscalationState {
    sessions: Sessions,
    /// Identity → role ARNs it assumed → when.
    assumed: BTreeMap<String, BTreeMap<String, i64>>,
    /// `account/user` → groups it was added to.
    groups: BTreeMap<String, BTreeSet<String>>,
    /// Principals known to hold admin power (`account/user/NAME`,
    /// `account/group/NAME`, `account/role/NAME`) → since when.
    privileged: BTreeMap<String, i64>,
    /// Customer-managed policy ARN → principals it is attached to.
    attached: BTreeMap<String, BTreeSet<String>>,
    /// `identity\nrole name` → the trust change that opened it (text
    /// keys: the state is saved as JSON).
    opened: BTreeMap<String, Step>,
    /// Identity → escalation calls in the window, oldest first.
    calls: BTreeMap<String, VecDeque<WindowCall>>,
    /// Identities the broad signal fired for → when.
    probed: BTreeMap<String, i64>,
}

#[derive(Debug)]
pub struct Escalation {
    window_ms: i64,
    share: f64,
    denied_weight: f64,
    idle_ms: i64,
    state: EscalationState,
}

impl Escalation {
    pub fn new(s: &Settings) -> Escalation {
        Escalation {
            window_ms: i64::from(s.escalation_window_hours) * 3_600_000,
            share: s.escalation_share,
            denied_weight: s.escalation_denied_weight,
            idle_ms: i64::from(s.idle_days) * 86_400_000,
            state: EscalationState::default(),
        }
    }
}

fn param<'a>(c: &'a Call, key: &str) -> Option<&'a str> {
    c.params.as_ref().and_then(|p| json_str(p, &[key]))
}

/// The name after the last `/` of an ARN (a role's or user's name).
fn last_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Whether a Put*/Attach* call grants admin power, and how it reads.
fn privileged_grant(c: &Call) -> Option<String> {
    if let Some(arn) = param(c, "policyArn")
        && is_privileged_arn(arn)
    {
        return Some(last_name(arn).to_string());
    }
    let doc = c.params.as_ref()?.get("policyDocument")?;
    grants_admin(&parse_document(doc)?).then(|| {
        format!(
            "inline policy {} allowing *:*",
            param(c, "policyName").unwrap_or("(unnamed)")
        )
    })
}

/// The caller as the principals it acts for: itself, the roles it was
/// seen assuming, the role of its session, the groups it was seen joining.
struct Actor {
    user: Option<String>,
    roles: BTreeSet<String>,
    session_role: Option<String>,
    groups: BTreeSet<String>,
    /// It already holds admin power (granting itself more is no
    /// escalation).
    privileged: bool,
}

impl Actor {
    /// Whether `target` (`account/user/NAME`, …) is the caller.
    fn is(&self, target: &str) -> bool {
        self.user.as_deref() == Some(target)
            || self.session_role.as_deref() == Some(target)
            || self.roles.contains(target)
            || self.groups.contains(target)
    }
}

/// The user, group or role a call acts on (`account/user/NAME`, …).
fn target_of(c: &Call) -> Option<String> {
    let acct = &c.account;
    match c.event_name.as_str() {
        "AttachUserPolicy" | "PutUserPolicy" | "CreateLoginProfile" | "UpdateLoginProfile"
        | "CreateAccessKey" | "AddUserToGroup" => {
            param(c, "userName").map(|u| format!("{acct}/user/{u}"))
        }
        "AttachGroupPolicy" | "PutGroupPolicy" => {
            param(c, "groupName").map(|g| format!("{acct}/group/{g}"))
        }
        "AttachRolePolicy" | "PutRolePolicy" | "UpdateAssumeRolePolicy" => {
            param(c, "roleName").map(|r| format!("{acct}/role/{r}"))
        }
        _ => None,
    }
}

impl Detection for Escalation {
    type Fact = Call;
    type State = EscalationState;

    fn name(&self) -> &str {
        PRIVILEGE_ESCALATION.id
    }

    fn fact(&mut self, r: &Record<'_>) -> Option<Call> {
        let e = &r.event;
        self.state.sessions.learn(e, r.time.timestamp_millis());
        let name = e.event_name.as_deref()?;
        let source = e.event_source.as_deref().unwrap_or_default();
        let denied = e
            .error_code
            .as_deref()
            .is_some_and(|c| c.starts_with("AccessDenied") || c == "UnauthorizedOperation");
        let relevant = source == "iam.amazonaws.com"
            || name == "AssumeRole"
            || ESCALATION_APIS.contains(&name)
            || denied;
        if !relevant {
            return None;
        }
        let wants_params = source == "iam.amazonaws.com" || name == "AssumeRole";
        let ui = e.user_identity.as_ref();
        Some(Call {
            identity: self.state.sessions.identify(e)?.into_owned(),
            principal: e.principal().unwrap_or_default().to_string(),
            user: ui
                .filter(|u| u.kind.as_deref() == Some("IAMUser"))
                .and_then(|u| u.user_name.as_deref().map(str::to_string)),
            account: e.account().unwrap_or_default().to_string(),
            event_id: e.event_id.to_string(),
            event_name: name.to_string(),
            ip: e
                .source_ip_address
                .as_deref()
                .unwrap_or_default()
                .to_string(),
            error: e.error_code.as_deref().map(str::to_string),
            params: if wants_params {
                e.request_parameters
                    .and_then(|v| serde_json::from_str(v.get()).ok())
            } else {
                None
            },
        })
    }

    fn process(&mut self, at: i64, c: Call, out: &mut Vec<Alert>) {
        self.broad_signal(at, &c, out);
        if c.error.is_some() {
            return;
        }
        let actor = self.actor(&c);
        let target = target_of(&c);
        match c.event_name.as_str() {
            "AttachUserPolicy" | "PutUserPolicy" | "AttachGroupPolicy" | "PutGroupPolicy"
            | "AttachRolePolicy" | "PutRolePolicy" => {
                if let Some(t) = target {
                    self.policy_granted(at, &c, &actor, t, out);
                }
            }
            "AddUserToGroup" => {
                if let (Some(t), Some(g)) = (target, param(&c, "groupName")) {
                    self.joined_group(at, &c, &actor, t, g, out);
                }
            }
            "CreatePolicyVersion" => self.policy_version(at, &c, &actor, out),
            "CreateLoginProfile" | "CreateAccessKey" | "UpdateLoginProfile" => {
                if let Some(t) = target {
                    self.credential_of_other(at, &c, &actor, &t, out);
                }
            }
            "UpdateAssumeRolePolicy" => self.trust_opened(at, &c),
            "AssumeRole" => self.role_assumed(at, &c, out),
            _ => {}
        }
    }

    fn expire(&mut self, now: i64, _out: &mut Vec<Alert>) {
        let st = &mut self.state;
        st.sessions.expire(now);
        let idle = self.idle_ms;
        let window = self.window_ms;
        for roles in st.assumed.values_mut() {
            roles.retain(|_, t| now.saturating_sub(*t) <= idle);
        }
        st.assumed.retain(|_, m| !m.is_empty());
        st.opened.retain(|_, s| now.saturating_sub(s.at) <= window);
        for calls in st.calls.values_mut() {
            calls.retain(|(t, ..)| now.saturating_sub(*t) <= window);
        }
        st.calls.retain(|_, v| !v.is_empty());
        st.probed.retain(|_, t| now.saturating_sub(*t) <= window);
    }

    fn state(&self) -> &EscalationState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut EscalationState {
        &mut self.state
    }
}

impl Escalation {
    /// Who the caller is, as the principals it acts for, and whether it
    /// already holds admin power.
    fn actor(&self, c: &Call) -> Actor {
        let acct = &c.account;
        let user = c.user.as_ref().map(|u| format!("{acct}/user/{u}"));
        let roles = self
            .state
            .assumed
            .get(&c.identity)
            .map(|m| {
                m.keys()
                    .map(|r| format!("{acct}/role/{}", last_name(r)))
                    .collect()
            })
            .unwrap_or_default();
        // A role session acts for its role.
        let session_role = c
            .principal
            .split_once(":assumed-role/")
            .map(|(_, rest)| format!("{acct}/role/{}", rest.split('/').next().unwrap_or(rest)));
        let groups = user
            .as_ref()
            .and_then(|u| self.state.groups.get(u))
            .map(|g| g.iter().map(|n| format!("{acct}/group/{n}")).collect())
            .unwrap_or_default();
        let privileged = user
            .as_ref()
            .is_some_and(|u| self.state.privileged.contains_key(u))
            || session_role
                .as_ref()
                .is_some_and(|r| self.state.privileged.contains_key(r));
        Actor {
            user,
            roles,
            session_role,
            groups,
            privileged,
        }
    }

    /// A policy attached to or put on a user, group or role: remembered,
    /// and an alert when it grants admin power to the caller itself.
    fn policy_granted(
        &mut self,
        at: i64,
        c: &Call,
        actor: &Actor,
        t: String,
        out: &mut Vec<Alert>,
    ) {
        if let Some(arn) = param(c, "policyArn")
            && !arn.contains(":iam::aws:policy/")
        {
            self.state
                .attached
                .entry(arn.to_string())
                .or_default()
                .insert(t.clone());
        }
        let Some(what) = privileged_grant(c) else {
            return;
        };
        self.state.privileged.insert(t.clone(), at);
        if actor.is(&t) && !actor.privileged {
            let how = if Some(&t) == actor.user.as_ref() {
                "itself".to_string()
            } else if t.contains("/group/") {
                format!("its group {}", last_name(&t))
            } else {
                format!("the role {}, which it assumes", last_name(&t))
            };
            out.push(self.alert(
                at,
                c,
                "self-grant",
                Severity::P1,
                format!("{} granted {how} {what}", c.identity),
                vec![],
            ));
        }
    }

    /// A user added to a group: remembered, and an alert when the caller
    /// put itself in a group holding admin power.
    fn joined_group(
        &mut self,
        at: i64,
        c: &Call,
        actor: &Actor,
        t: String,
        g: &str,
        out: &mut Vec<Alert>,
    ) {
        self.state
            .groups
            .entry(t.clone())
            .or_default()
            .insert(g.to_string());
        let group = format!("{}/group/{g}", c.account);
        if !self.state.privileged.contains_key(&group) {
            return;
        }
        self.state.privileged.insert(t.clone(), at);
        if actor.is(&t) && !actor.privileged {
            out.push(self.alert(
                at,
                c,
                "admin-group",
                Severity::P1,
                format!("{} added itself to the admin group {g}", c.identity),
                vec![],
            ));
        }
    }

    /// A new default policy version: an alert when the policy is attached
    /// to the caller, or the version grants admin power.
    fn policy_version(&mut self, at: i64, c: &Call, actor: &Actor, out: &mut Vec<Alert>) {
        let default = c
            .params
            .as_ref()
            .and_then(|p| p.get("setAsDefault"))
            .is_some_and(|v| v == &Value::Bool(true) || v == "true");
        let Some(policy) = param(c, "policyArn").map(str::to_string) else {
            return;
        };
        if !default {
            return;
        }
        let holders = self
            .state
            .attached
            .get(&policy)
            .cloned()
            .unwrap_or_default();
        let mine = holders.iter().any(|h| actor.is(h));
        let admin = c
            .params
            .as_ref()
            .and_then(|p| p.get("policyDocument"))
            .and_then(parse_document)
            .is_some_and(|d| grants_admin(&d));
        if admin {
            for h in &holders {
                self.state.privileged.insert(h.clone(), at);
            }
        }
        if (mine || admin) && !actor.privileged {
            let whose = if mine {
                "attached to itself"
            } else {
                "whose holders it may be among"
            };
            let grant = if admin { " granting *:*" } else { "" };
            out.push(self.alert(
                at,
                c,
                "policy-version",
                Severity::P1,
                format!(
                    "{} made a new default version{grant} of {}, a policy {whose}",
                    c.identity,
                    last_name(&policy)
                ),
                vec![],
            ));
        }
    }

    /// A password or key made for another user: an alert when that user
    /// holds more power than the caller, or for any password reset.
    fn credential_of_other(
        &mut self,
        at: i64,
        c: &Call,
        actor: &Actor,
        t: &str,
        out: &mut Vec<Alert>,
    ) {
        if actor.is(t) {
            return;
        }
        let stronger = self.state.privileged.contains_key(t) && !actor.privileged;
        let reset = c.event_name == "UpdateLoginProfile";
        if !(stronger || reset) {
            return;
        }
        let what = match c.event_name.as_str() {
            "CreateLoginProfile" => "created a console password for",
            "CreateAccessKey" => "created an access key for",
            _ => "reset the console password of",
        };
        let whom = if stronger {
            format!("{}, a user holding admin power", last_name(t))
        } else {
            format!("another user, {}", last_name(t))
        };
        out.push(self.alert(
            at,
            c,
            "credential-of-other",
            if stronger { Severity::P1 } else { Severity::P2 },
            format!("{} {what} {whom}", c.identity),
            vec![],
        ));
    }

    /// A trust policy changed to let the caller in: remembered for the
    /// window, waiting for the caller to assume the role.
    fn trust_opened(&mut self, at: i64, c: &Call) {
        let Some(role) = param(c, "roleName").map(str::to_string) else {
            return;
        };
        let lets_me = c
            .params
            .as_ref()
            .and_then(|p| p.get("policyDocument"))
            .and_then(parse_document)
            .is_some_and(|d| {
                let text = d.to_string();
                trusted_accounts(&d)
                    .iter()
                    .any(|a| a == "*" || *a == c.account)
                    || text.contains(&c.principal)
            });
        if lets_me {
            self.state.opened.insert(
                format!("{}\n{role}", c.identity),
                Step {
                    at,
                    event_id: c.event_id.clone(),
                    text: format!("changed the trust policy of role {role} to let itself in"),
                },
            );
        }
    }

    /// A role assumed: remembered, and an alert when the caller opened its
    /// trust policy to itself within the window.
    fn role_assumed(&mut self, at: i64, c: &Call, out: &mut Vec<Alert>) {
        let Some(role_arn) = param(c, "roleArn").map(str::to_string) else {
            return;
        };
        self.state
            .assumed
            .entry(c.identity.clone())
            .or_default()
            .insert(role_arn.clone(), at);
        let role = last_name(&role_arn).to_string();
        let Some(step) = self.state.opened.remove(&format!("{}\n{role}", c.identity)) else {
            return;
        };
        if at.saturating_sub(step.at) > self.window_ms {
            return;
        }
        let admin = self
            .state
            .privileged
            .contains_key(&format!("{}/role/{role}", c.account));
        out.push(self.alert(
            at,
            c,
            "trust-then-assume",
            if admin { Severity::P1 } else { Severity::P2 },
            format!(
                "{} {} and then assumed it{}",
                c.identity,
                step.text,
                if admin {
                    " (a role holding admin power)"
                } else {
                    ""
                }
            ),
            vec![step],
        ));
    }

    /// The broad signal: escalation APIs called, refusals weighing more,
    /// once a success follows them.
    fn broad_signal(&mut self, at: i64, c: &Call, out: &mut Vec<Alert>) {
        let escalation = ESCALATION_APIS.contains(&c.event_name.as_str());
        let refused = c.error.is_some();
        if !escalation && !refused {
            return;
        }
        let window = self.window_ms;
        let calls = self.state.calls.entry(c.identity.clone()).or_default();
        // Calls come in event-time order (a late one, out of order, is
        // passed over by the window filter below until it expires).
        while calls
            .front()
            .is_some_and(|(t, ..)| at.saturating_sub(*t) > window)
        {
            calls.pop_front();
        }
        calls.push_back((
            at,
            c.event_name.as_str().into(),
            refused,
            EventId::new(&c.event_id),
        ));
        if refused || !escalation || self.state.probed.contains_key(&c.identity) {
            return;
        }
        let in_window = calls
            .iter()
            .filter(|(t, ..)| at.saturating_sub(*t) <= window);
        let used: BTreeSet<&str> = in_window
            .clone()
            .filter(|(_, api, r, _)| !r && ESCALATION_APIS.contains(&api.as_ref()))
            .map(|(_, api, ..)| api.as_ref())
            .collect();
        let denied: BTreeSet<&str> = in_window
            .clone()
            .filter(|(_, _, r, _)| *r)
            .map(|(_, api, ..)| api.as_ref())
            .collect();
        let score = used.len() as f64 + self.denied_weight * denied.len() as f64;
        let limit = self.share * ESCALATION_APIS.len() as f64;
        if score <= limit {
            return;
        }
        let steps: Vec<Step> = in_window
            .map(|(t, api, r, id)| Step {
                at: *t,
                event_id: id.to_string(),
                text: format!("{api}{}", if *r { " (refused)" } else { "" }),
            })
            .collect();
        self.state.probed.insert(c.identity.clone(), at);
        let text = format!(
            "{} called {} of the {} known escalation APIs and was refused on {} other calls within {} h (score {score:.0}, limit {limit:.0})",
            c.identity,
            used.len(),
            ESCALATION_APIS.len(),
            denied.len(),
            self.window_ms / 3_600_000
        );
        out.push(self.alert(at, c, "escalation-probing", Severity::P2, text, steps));
    }

    fn alert(
        &self,
        at: i64,
        c: &Call,
        path: &str,
        severity: Severity,
        text: String,
        mut before: Vec<Step>,
    ) -> Alert {
        before.push(Step {
            at,
            event_id: c.event_id.clone(),
            text: c.event_name.clone(),
        });
        let start = before.first().map_or(at, |s| s.at);
        // A probing story can hold thousands of calls: the alert cites the
        // first steps and the last (the call that completed it), as every
        // alert cites at most EVIDENCE_IDS events; event_count says how
        // many there were, and the query finds them all.
        before.dedup_by(|a, b| a.event_id == b.event_id);
        let steps = before.len();
        if steps > EVIDENCE_IDS {
            before.drain(EVIDENCE_IDS - 1..steps - 1);
        }
        let mut chain: Vec<String> = before
            .iter()
            .map(|s| format!("{} {} ({})", iso(s.at), s.text, s.event_id))
            .collect();
        if steps > before.len() {
            let last = chain.len() - 1;
            chain.insert(last, format!("… {} more", steps - before.len()));
        }
        let description = format!(
            "{text}. Chain: {}. From {}.",
            chain.join("; "),
            if c.ip.is_empty() {
                "an unknown address"
            } else {
                &c.ip
            }
        );
        let query = format!(
            "SELECT eventtime, eventname, errorcode, sourceipaddress, requestparameters FROM cloudtrail_logs\nWHERE useridentity.arn = {} AND eventtime BETWEEN {} AND {}\nORDER BY eventtime",
            sql_text(&c.principal),
            sql_text(&iso(start - self.window_ms)),
            sql_text(&iso(at + 3_600_000)),
        );
        let event_ids: Vec<String> = before.iter().map(|s| s.event_id.clone()).collect();
        let dimensions = [
            ("identity", c.identity.clone()),
            ("path", path.to_string()),
            ("account", c.account.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Alert {
            alert_id: correlation_id(&PRIVILEGE_ESCALATION, &[path, &c.identity, &c.event_id]),
            kind: AlertKind::Correlation,
            rule_id: PRIVILEGE_ESCALATION.id.to_string(),
            title: format!("Privilege escalation by {}", last_name(&c.identity)),
            severity,
            state: AlarmState::Alarm,
            time: iso(at),
            window_start: Some(iso(start)),
            window_end: Some(iso(at)),
            threshold: None,
            datapoints: Vec::new(),
            dimensions,
            event_count: steps,
            event_ids,
            principals: vec![c.principal.clone()],
            source_ips: if c.ip.is_empty() { vec![] } else { vec![c.ip.clone()] },
            actions: vec![
                "Check whether the change was approved; if not, detach the policy or delete the key or password, and revoke the principal's sessions.".into(),
                "Run the query for everything the principal did around it.".into(),
            ],
            description,
            query: Some(query),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::cases::{ACCOUNT, Case, call, check, denied, user, with};
    use super::super::{Ordered, Settings};
    use super::Escalation;
    use crate::detect::Detector;

    fn detector() -> Box<dyn Detector> {
        Box::new(Ordered::new(Escalation::new(&Settings::default())))
    }

    /// An IAM call by `who` (a user name) at minute `m` past 10:00.
    fn iam(m: u32, who: &str, name: &str, params: Value) -> Value {
        let time = format!("2024-05-01T10:{m:02}:00Z");
        with(
            call(&time, "iam", name, user(who)),
            "requestParameters",
            params,
        )
    }

    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

    fn star() -> String {
        json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}).to_string()
    }

    fn trust_own() -> String {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "sts:AssumeRole"}]}).to_string()
    }

    /// Alice attaches the customer-managed policy `dev` to herself.
    fn alice_attaches_dev() -> Value {
        let arn = format!("arn:aws:iam::{ACCOUNT}:policy/dev");
        iam(
            0,
            "alice",
            "AttachUserPolicy",
            json!({"userName": "alice", "policyArn": arn}),
        )
    }

    /// Alice makes a new version of `dev` with `document`.
    fn new_dev_version(default: bool, document: &str) -> Value {
        let arn = format!("arn:aws:iam::{ACCOUNT}:policy/dev");
        let params = json!({"policyArn": arn, "setAsDefault": default, "policyDocument": document});
        iam(1, "alice", "CreatePolicyVersion", params)
    }

    /// Alice lets her own account assume role `ops`.
    fn alice_opens_ops() -> Value {
        iam(
            0,
            "alice",
            "UpdateAssumeRolePolicy",
            json!({"roleName": "ops", "policyDocument": trust_own()}),
        )
    }

    fn assume(time: &str, who: &str, role: &str) -> Value {
        let c = call(time, "sts", "AssumeRole", user(who));
        let c = with(
            c,
            "requestParameters",
            json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "roleSessionName": who}),
        );
        with(
            c,
            "responseElements",
            json!({"credentials": {"accessKeyId": format!("ASIA{role}")}}),
        )
    }

    #[test]
    fn each_path_of_escalation_fires() {
        let cases = [
            Case::fires(
                "an admin policy attached to itself",
                "user/alice granted itself AdministratorAccess",
                vec![iam(
                    0,
                    "alice",
                    "AttachUserPolicy",
                    json!({"userName": "alice", "policyArn": ADMIN}),
                )],
            ),
            Case::fires(
                "an inline *:* policy on a group it joined",
                "granted its group devs inline policy p allowing *:*",
                vec![
                    iam(
                        0,
                        "alice",
                        "AddUserToGroup",
                        json!({"userName": "alice", "groupName": "devs"}),
                    ),
                    iam(
                        1,
                        "alice",
                        "PutGroupPolicy",
                        json!({"groupName": "devs", "policyName": "p", "policyDocument": star()}),
                    ),
                ],
            ),
            Case::fires(
                "joining a group known to hold admin power",
                "added itself to the admin group admins",
                vec![
                    iam(
                        0,
                        "carol",
                        "AttachGroupPolicy",
                        json!({"groupName": "admins", "policyArn": ADMIN}),
                    ),
                    iam(
                        1,
                        "alice",
                        "AddUserToGroup",
                        json!({"userName": "alice", "groupName": "admins"}),
                    ),
                ],
            ),
            Case::fires(
                "a new default version of a policy attached to itself",
                "made a new default version of dev, a policy attached to itself",
                vec![alice_attaches_dev(), new_dev_version(true, "{}")],
            ),
            Case::fires(
                "an access key for a user holding admin power",
                "created an access key for bob, a user holding admin power",
                vec![
                    iam(
                        0,
                        "carol",
                        "AttachUserPolicy",
                        json!({"userName": "bob", "policyArn": ADMIN}),
                    ),
                    iam(1, "alice", "CreateAccessKey", json!({"userName": "bob"})),
                ],
            ),
            Case::fires(
                "another user's password reset",
                "reset the console password of another user, bob",
                vec![iam(
                    0,
                    "alice",
                    "UpdateLoginProfile",
                    json!({"userName": "bob"}),
                )],
            ),
            Case::fires(
                "a trust policy opened, then the role assumed",
                "changed the trust policy of role ops to let itself in and then assumed it",
                vec![
                    alice_opens_ops(),
                    assume("2024-05-01T10:30:00Z", "alice", "ops"),
                ],
            ),
            Case::fires(
                "refusals, then escalation APIs that succeed",
                "called 2 of the 20 known escalation APIs and was refused on 2 other calls",
                vec![
                    denied(iam(
                        0,
                        "alice",
                        "AttachUserPolicy",
                        json!({"userName": "bob", "policyArn": ADMIN}),
                    )),
                    denied(iam(1, "alice", "PutRolePolicy", json!({"roleName": "ops"}))),
                    iam(
                        2,
                        "alice",
                        "CreateInstanceProfile",
                        json!({"instanceProfileName": "x"}),
                    ),
                    iam(
                        3,
                        "alice",
                        "AttachGroupPolicy",
                        json!({"groupName": "devs", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
                    ),
                ],
            ),
        ];
        check(&cases, detector);
    }

    #[test]
    fn look_alikes_of_escalation_stay_quiet() {
        let cases = [
            Case::quiet(
                "an admin policy attached to someone else",
                vec![iam(
                    0,
                    "alice",
                    "AttachUserPolicy",
                    json!({"userName": "bob", "policyArn": ADMIN}),
                )],
            ),
            Case::quiet(
                "an admin granting itself more",
                vec![
                    iam(
                        0,
                        "carol",
                        "AttachUserPolicy",
                        json!({"userName": "alice", "policyArn": ADMIN}),
                    ),
                    iam(
                        1,
                        "alice",
                        "PutUserPolicy",
                        json!({"userName": "alice", "policyName": "p", "policyDocument": star()}),
                    ),
                ],
            ),
            Case::quiet(
                "a read-only policy on itself",
                vec![iam(
                    0,
                    "alice",
                    "AttachUserPolicy",
                    json!({"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
                )],
            ),
            Case::quiet(
                "a policy version not made the default",
                vec![alice_attaches_dev(), new_dev_version(false, &star())],
            ),
            Case::quiet(
                "an access key for a user with no known power",
                vec![iam(
                    0,
                    "alice",
                    "CreateAccessKey",
                    json!({"userName": "bob"}),
                )],
            ),
            Case::quiet(
                "its own password changed",
                vec![iam(
                    0,
                    "alice",
                    "UpdateLoginProfile",
                    json!({"userName": "alice"}),
                )],
            ),
            Case::quiet(
                "a role assumed after the window",
                vec![
                    alice_opens_ops(),
                    assume("2024-05-02T12:00:00Z", "alice", "ops"),
                ],
            ),
            Case::quiet(
                "another role assumed",
                vec![
                    alice_opens_ops(),
                    assume("2024-05-01T10:30:00Z", "alice", "audit"),
                ],
            ),
            Case::quiet(
                "the role opened by one user, assumed by another",
                vec![
                    alice_opens_ops(),
                    assume("2024-05-01T10:30:00Z", "bob", "ops"),
                ],
            ),
            Case::quiet(
                "refusals with no success after them",
                (0..6)
                    .map(|m| {
                        denied(iam(
                            m,
                            "alice",
                            super::ESCALATION_APIS[m as usize],
                            json!({}),
                        ))
                    })
                    .collect(),
            ),
        ];
        check(&cases, detector);
    }
}
