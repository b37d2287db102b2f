//! The incidents planted in the sample trail, each a short story of records
//! that a security engineer (and trailwatch's detections) should notice.
//! Each comes with negatives nearby that must not be mistaken for it.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};

use super::record::{GenEvent, access_key};
use super::traffic::{base_event, console_login};
use super::world::{ACCOUNTS, CONSOLE_AGENTS, HOME_IPS, Kind, Principal, without_nulls};

/// One planted incident, as listed in `planted-incidents.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub name: &'static str,
    pub description: &'static str,
    /// The rule ids expected to notice it.
    pub detected_by: &'static [&'static str],
    pub account: &'static str,
    pub first_event_time: String,
    pub event_ids: Vec<String>,
    #[serde(skip)]
    pub events: Vec<GenEvent>,
}

const ROOT_IP: &str = "185.220.101.47";
const BRUTE_IP: &str = "45.155.205.233";
const EXFIL_IP: &str = "91.219.236.18";
const INTERN_IP: &str = "102.129.153.8";
const LONDON_IP: &str = "81.2.69.142";
const FAR_IP: &str = "175.16.199.5";

fn root(account: &str) -> Principal {
    Principal {
        kind: Kind::Human,
        name: "root",
        account: leak(account),
        access_key: String::new(),
        ips: &[ROOT_IP],
        agents: CONSOLE_AGENTS,
        weight: 0.0,
    }
}

/// Account ids are `'static` in the world model; incidents only use those.
fn leak(account: &str) -> &'static str {
    ACCOUNTS
        .iter()
        .find(|a| a.id == account)
        .map_or("111111111111", |a| a.id)
}

fn root_identity(account: &str, key: Option<&str>) -> Value {
    let mut v = json!({
        "type": "Root",
        "principalId": account,
        "arn": format!("arn:aws:iam::{account}:root"),
        "accountId": account,
        "accessKeyId": key,
    });
    if key.is_some() {
        v["sessionContext"] = json!({"attributes": {"creationDate": "2026-04-01T05:40:00Z", "mfaAuthenticated": "false"}});
    }
    without_nulls(v)
}

struct Story<'a, R> {
    rng: &'a mut R,
    at: DateTime<Utc>,
    events: Vec<GenEvent>,
}

impl<R: Rng> Story<'_, R> {
    fn call(
        &mut self,
        p: &Principal,
        region: &str,
        source: &str,
        name: &str,
        params: Value,
    ) -> &mut GenEvent {
        let mut e = base_event(self.rng, p, region, self.at, source, name);
        e.read_only = false;
        e.request_parameters = params;
        self.events.push(e);
        self.at += Duration::seconds(self.rng.random_range(5..40));
        let last = self.events.len() - 1;
        &mut self.events[last]
    }

    fn wait(&mut self, minutes: i64) {
        self.at += Duration::minutes(minutes);
    }
}

fn incident(
    name: &'static str,
    description: &'static str,
    detected_by: &'static [&'static str],
    account: &'static str,
    events: Vec<GenEvent>,
) -> Incident {
    Incident {
        name,
        description,
        detected_by,
        account,
        first_event_time: events
            .first()
            .map(|e| e.event_time.clone())
            .unwrap_or_default(),
        event_ids: events.iter().map(|e| e.event_id.clone()).collect(),
        events,
    }
}

fn user(
    name: &'static str,
    account: &'static str,
    ips: &'static [&'static str],
    key: String,
) -> Principal {
    Principal {
        kind: Kind::Human,
        name,
        account,
        access_key: key,
        ips,
        agents: super::world::CLI_AGENTS,
        weight: 0.0,
    }
}

/// All planted incidents for a trail starting at `start` and lasting `span`.
pub fn plant(rng: &mut impl Rng, start: DateTime<Utc>, span: Duration) -> Vec<Incident> {
    let prod = ACCOUNTS[0].id;
    let staging = ACCOUNTS[1].id;
    let at = |frac: f64| start + Duration::seconds((span.num_seconds() as f64 * frac) as i64);
    let mut out = Vec::new();

    // 1. Root signs in to the console without MFA and starts working.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.06),
            events: Vec::new(),
        };
        let r = root(prod);
        let mut login = console_login(s.rng, &r, s.at, ROOT_IP, false);
        login.user_identity = root_identity(prod, None);
        s.events.push(login);
        s.wait(2);
        let key = access_key(s.rng, "ASIA");
        for (src, name, params) in [
            ("iam.amazonaws.com", "GetAccountSummary", Value::Null),
            ("iam.amazonaws.com", "ListUsers", Value::Null),
            ("iam.amazonaws.com", "CreateAccessKey", Value::Null),
        ] {
            let e = s.call(&r, "us-east-1", src, name, params);
            e.user_identity = root_identity(prod, Some(&key));
            e.session_credential_from_console = Some("true");
            e.source_ip_address = ROOT_IP.into();
            e.user_agent = CONSOLE_AGENTS[0].into();
            if name == "CreateAccessKey" {
                e.response_elements = json!({"accessKey": {"accessKeyId": "AKIAROOTKEYEXAMPLE01", "status": "Active", "userName": prod, "createDate": "Apr 1, 2026, 5:50:00 AM"}});
            } else {
                e.read_only = true;
            }
        }
        out.push(incident(
            "root-console-login",
            "The root user signs in to the console without MFA from an unfamiliar IP, lists users and creates a root access key",
            &[
                "root-account-usage",
                "console-login-without-mfa",
                "cis-4.3",
                "root-access-key-created",
                // A root access key, made by root with no IAM write before.
                "iam-persistence",
            ],
            prod,
            s.events,
        ));
    }

    // 2. IAM policy changes: an inline admin policy and an admin attachment.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.2),
            events: Vec::new(),
        };
        let alice = user(
            "alice",
            prod,
            super::world::OFFICE_IPS,
            access_key(s.rng, "AKIA"),
        );
        s.call(&alice, "us-east-1", "iam.amazonaws.com", "PutUserPolicy", json!({
            "userName": "bob", "policyName": "temp-full-access",
            "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"
        }));
        s.call(
            &alice,
            "us-east-1",
            "iam.amazonaws.com",
            "AttachRolePolicy",
            json!({
                "roleName": "app-server", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"
            }),
        );
        s.call(&alice, "us-east-1", "iam.amazonaws.com", "PutRolePolicy", json!({
            "roleName": "order-processor", "policyName": "s3-all",
            "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}"
        }));
        out.push(incident(
            "iam-policy-changes",
            "alice grants bob an inline allow-everything policy and attaches AdministratorAccess to the app-server role",
            &["iam-policy-changes", "cis-4.4"],
            prod,
            s.events,
        ));
    }

    // 3. Security groups opened to the world (IPv4 in prod, IPv6 in staging).
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.3),
            events: Vec::new(),
        };
        let bob = user("bob", prod, HOME_IPS, access_key(s.rng, "AKIA"));
        let e = s.call(&bob, "eu-west-1", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", json!({
            "groupId": "sg-0f1e2d3c4b5a69788",
            "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
                "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "temp ssh"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}
        }));
        e.response_elements = json!({"_return": true});
        let dave = user("dave", staging, HOME_IPS, access_key(s.rng, "AKIA"));
        s.wait(30);
        let e = s.call(&dave, "us-east-1", "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", json!({
            "groupId": "sg-0aa11bb22cc33dd44",
            "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "groups": {},
                "ipRanges": {}, "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}, "prefixListIds": {}}]}
        }));
        e.response_elements = json!({"_return": true});
        out.push(incident(
            "security-group-open-to-world",
            "SSH opened to 0.0.0.0/0 in prod eu-west-1, and RDP to ::/0 in staging",
            &["security-group-open-to-world", "cis-4.10"],
            prod,
            s.events,
        ));
    }

    // 4. CloudTrail logging stopped, then a trail deleted in staging.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.45),
            events: Vec::new(),
        };
        let mallory = user("bob", prod, &[EXFIL_IP], access_key(s.rng, "AKIA"));
        let e = s.call(
            &mallory,
            "us-east-1",
            "cloudtrail.amazonaws.com",
            "StopLogging",
            json!({"name": "arn:aws:cloudtrail:us-east-1:111111111111:trail/org-security-trail"}),
        );
        e.response_elements = Value::Null;
        s.wait(5);
        let dave = user("dave", staging, &[EXFIL_IP], access_key(s.rng, "AKIA"));
        s.call(
            &dave,
            "us-east-1",
            "cloudtrail.amazonaws.com",
            "DeleteTrail",
            json!({"name": "staging-trail"}),
        );
        out.push(incident(
            "cloudtrail-stopped",
            "Logging of the organisation trail is stopped from an unusual IP, and the staging trail is deleted",
            &["cloudtrail-stopped", "cis-4.5", "cloudtrail-tampering"],
            prod,
            s.events,
        ));
    }

    // 5. Console login without MFA by an IAM user (a federated one is benign).
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.5),
            events: Vec::new(),
        };
        let dave = user("dave", prod, HOME_IPS, String::new());
        let e = console_login(s.rng, &dave, s.at, HOME_IPS[1], false);
        s.events.push(e);
        out.push(incident(
            "console-login-without-mfa",
            "dave signs in to the console with a password only",
            &["console-login-without-mfa", "cis-4.2"],
            prod,
            s.events,
        ));
    }

    // 6. Failed console logins: a password-guessing burst.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.55),
            events: Vec::new(),
        };
        let carol = user("carol", prod, &[BRUTE_IP], String::new());
        for i in 0..6 {
            let mut e = console_login(s.rng, &carol, s.at, BRUTE_IP, false);
            e.response_elements = json!({"ConsoleLogin": "Failure"});
            e.error_message = Some(
                if i == 5 {
                    "No username found in supplied account"
                } else {
                    "Failed authentication"
                }
                .into(),
            );
            if i == 5 {
                e.user_identity["userName"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
                if let Value::Object(m) = &mut e.user_identity {
                    m.remove("arn");
                    m.remove("principalId");
                }
            }
            e.additional_event_data = Some(
                json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"}),
            );
            s.events.push(e);
            s.at += Duration::seconds(25);
        }
        out.push(incident(
            "console-login-failures",
            "Six failed console sign-ins for carol within three minutes from one IP",
            &["console-login-failures", "cis-4.6"],
            prod,
            s.events,
        ));
    }

    // 7. A bucket policy that makes customer data public.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.6),
            events: Vec::new(),
        };
        let bob = user(
            "bob",
            prod,
            super::world::OFFICE_IPS,
            access_key(s.rng, "AKIA"),
        );
        let e = s.call(&bob, "us-east-1", "s3.amazonaws.com", "PutBucketPolicy", json!({
            "bucketName": "acme-prod-reports", "Host": "acme-prod-reports.s3.us-east-1.amazonaws.com", "policy": "",
            "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-prod-reports/*"}]}
        }));
        e.resources = Some(
            json!([{"accountId": prod, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-prod-reports"}]),
        );
        let e = s.call(
            &bob,
            "us-east-1",
            "s3.amazonaws.com",
            "DeletePublicAccessBlock",
            json!({"bucketName": "acme-prod-reports", "publicAccessBlock": ""}),
        );
        e.resources = Some(
            json!([{"accountId": prod, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-prod-reports"}]),
        );
        out.push(incident(
            "s3-bucket-made-public",
            "bob removes the public access block of acme-prod-reports and grants s3:GetObject to everyone",
            &["s3-bucket-policy-change", "cis-4.8"],
            prod,
            s.events,
        ));
    }

    // 8. Privilege escalation: refused calls, then a self-granted admin policy.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.7),
            events: Vec::new(),
        };
        let intern = user("intern", prod, &[INTERN_IP], access_key(s.rng, "AKIA"));
        for (src, name) in [
            ("secretsmanager.amazonaws.com", "ListSecrets"),
            ("iam.amazonaws.com", "ListAttachedUserPolicies"),
            ("secretsmanager.amazonaws.com", "GetSecretValue"),
        ] {
            let e = s.call(&intern, "us-east-1", src, name, Value::Null);
            e.read_only = true;
            e.error_code = Some("AccessDenied".into());
            e.error_message = Some(format!(
                "User: arn:aws:iam::{prod}:user/intern is not authorized to perform: {}:{name}",
                src.trim_end_matches(".amazonaws.com")
            ));
        }
        s.call(&intern, "us-east-1", "iam.amazonaws.com", "CreatePolicyVersion", json!({
            "policyArn": format!("arn:aws:iam::{prod}:policy/intern-policy"), "setAsDefault": true,
            "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"
        }));
        s.call(
            &intern,
            "us-east-1",
            "iam.amazonaws.com",
            "AttachUserPolicy",
            json!({
                "userName": "intern", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"
            }),
        );
        let e = s.call(
            &intern,
            "us-east-1",
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            json!({"secretId": "prod/acme/db-password"}),
        );
        e.read_only = true;
        out.push(incident(
            "privilege-escalation",
            "The intern user is refused, then makes a new default version of its own policy granting *:* and attaches AdministratorAccess to itself, then reads a secret",
            &["iam-policy-changes", "cis-4.4", "privilege-escalation"],
            prod,
            s.events,
        ));
    }

    // 9. Exfiltration: a burst of GetObject from an unfamiliar IP.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.8),
            events: Vec::new(),
        };
        let app = Principal {
            kind: Kind::Ec2Role,
            name: "app-server",
            account: prod,
            access_key: access_key(s.rng, "ASIA"),
            ips: &[EXFIL_IP],
            agents: &[
                "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.kali.2024 command/s3.cp",
            ],
            weight: 0.0,
        };
        let e = s.call(
            &app,
            "us-east-1",
            "s3.amazonaws.com",
            "ListBuckets",
            Value::Null,
        );
        e.read_only = true;
        for i in 0..240 {
            let key = format!("exports/customers-{i:04}.csv.gz");
            let mut e = base_event(
                s.rng,
                &app,
                "us-east-1",
                s.at,
                "s3.amazonaws.com",
                "GetObject",
            );
            e.request_parameters = json!({"bucketName": "acme-prod-customer-data", "Host": "acme-prod-customer-data.s3.us-east-1.amazonaws.com", "key": key});
            e.additional_event_data = Some(
                json!({"SignatureVersion": "SigV4", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader", "bytesTransferredOut": 4_800_000 + i * 1000}),
            );
            e.resources = Some(json!([
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::acme-prod-customer-data/{key}")},
                {"accountId": prod, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-prod-customer-data"}
            ]));
            e.event_category = "Data";
            e.management_event = false;
            s.events.push(e);
            s.at += Duration::milliseconds(1000);
        }
        out.push(incident(
            "data-exfiltration",
            "The app-server role's credentials are used from an outside IP to download 240 customer exports in four minutes",
            // The instance's credentials appear far from the instance.
            &["s3-exfiltration", "impossible-travel"],
            prod,
            s.events,
        ));
    }

    // 10. Persistence: a backdoor user with keys, admin rights and a password.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.85),
            events: Vec::new(),
        };
        let bob = user("bob", prod, &[ROOT_IP], access_key(s.rng, "AKIA"));
        let e = s.call(
            &bob,
            "us-east-1",
            "iam.amazonaws.com",
            "CreateUser",
            json!({"userName": "svc-backup"}),
        );
        e.response_elements = json!({"user": {"userName": "svc-backup", "path": "/", "arn": format!("arn:aws:iam::{prod}:user/svc-backup"), "userId": "AIDASVCBACKUPEXAMPLE", "createDate": "Apr 4, 2026, 2:00:00 AM"}});
        let e = s.call(
            &bob,
            "us-east-1",
            "iam.amazonaws.com",
            "CreateAccessKey",
            json!({"userName": "svc-backup"}),
        );
        e.response_elements = json!({"accessKey": {"accessKeyId": "AKIASVCBACKUPKEY0001", "status": "Active", "userName": "svc-backup", "createDate": "Apr 4, 2026, 2:00:30 AM"}});
        s.call(&bob, "us-east-1", "iam.amazonaws.com", "AttachUserPolicy", json!({"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}));
        s.call(
            &bob,
            "us-east-1",
            "iam.amazonaws.com",
            "CreateLoginProfile",
            json!({"userName": "svc-backup", "passwordResetRequired": false}),
        );
        out.push(incident(
            "persistence-backdoor-user",
            "bob, from the IP the root login came from, creates svc-backup with an access key, AdministratorAccess and a console password",
            &["iam-persistence", "iam-policy-changes", "login-profile-created-for-other-user"],
            prod,
            s.events,
        ));
    }

    // 11. Impossible travel: the same user signs in from London and, twelve
    // minutes later, from north-east China.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.9),
            events: Vec::new(),
        };
        let carol = user("carol", prod, &[LONDON_IP], String::new());
        let e = console_login(s.rng, &carol, s.at, LONDON_IP, true);
        s.events.push(e);
        s.wait(12);
        let e = console_login(s.rng, &carol, s.at, FAR_IP, true);
        s.events.push(e);
        out.push(incident(
            "impossible-travel",
            "carol signs in from London and twelve minutes later from Changchun, China",
            &["impossible-travel"],
            prod,
            s.events,
        ));
    }

    // 12. Defences switched off in staging: GuardDuty, a KMS key, Config.
    {
        let mut s = Story {
            rng: &mut *rng,
            at: at(0.93),
            events: Vec::new(),
        };
        let dave = user("dave", staging, &[EXFIL_IP], access_key(s.rng, "AKIA"));
        s.call(
            &dave,
            "us-east-1",
            "guardduty.amazonaws.com",
            "DeleteDetector",
            json!({"detectorId": "12abc34d567e8fa901bc2d34e56789f0"}),
        );
        s.call(&dave, "us-east-1", "kms.amazonaws.com", "ScheduleKeyDeletion", json!({"keyId": "arn:aws:kms:us-east-1:222222222222:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "pendingWindowInDays": 7}));
        s.call(
            &dave,
            "us-east-1",
            "config.amazonaws.com",
            "StopConfigurationRecorder",
            json!({"configurationRecorderName": "default"}),
        );
        out.push(incident(
            "defences-disabled",
            "In staging, GuardDuty's detector is deleted, a KMS key is scheduled for deletion and AWS Config recording is stopped",
            &["guardduty-disabled", "cis-4.7", "cis-4.9", "kms-key-disabled-or-deleted", "config-disabled"],
            staging,
            s.events,
        ));
    }

    // Principals in the incidents use the same identity shape as ordinary
    // traffic; make sure every planted record's identity carries its account.
    for inc in &mut out {
        for e in &mut inc.events {
            if e.user_identity.get("accountId").is_none() {
                e.user_identity["accountId"] = json!(e.recipient_account_id);
            }
        }
    }
    out
}
