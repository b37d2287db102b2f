//! Which OCSF class and activity a CloudTrail record becomes, from its
//! `eventSource` and `eventName` (the mapping's selector): sign-ins and
//! role or session credentials are Authentication, changes to IAM users
//! and roles and their credentials are Account Change, everything else is
//! API Activity with the activity its verb names.

/// The OCSF event classes trailwatch writes for CloudTrail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    AccountChange,
    Authentication,
    ApiActivity,
}

impl Class {
    pub const ALL: [Class; 3] = [
        Class::AccountChange,
        Class::Authentication,
        Class::ApiActivity,
    ];

    pub fn uid(self) -> u32 {
        match self {
            Class::AccountChange => 3001,
            Class::Authentication => 3002,
            Class::ApiActivity => 6003,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Class::AccountChange => "Account Change",
            Class::Authentication => "Authentication",
            Class::ApiActivity => "API Activity",
        }
    }

    /// The class's name as a file name (`api_activity`), as the schema
    /// names it.
    pub fn file_name(self) -> &'static str {
        match self {
            Class::AccountChange => "account_change",
            Class::Authentication => "authentication",
            Class::ApiActivity => "api_activity",
        }
    }

    pub fn category(self) -> (u8, &'static str) {
        match self {
            Class::AccountChange | Class::Authentication => (3, "Identity & Access Management"),
            Class::ApiActivity => (6, "Application Activity"),
        }
    }

    /// The class of `class_uid`.
    pub fn from_uid(uid: i64) -> Option<Class> {
        Class::ALL.into_iter().find(|c| i64::from(c.uid()) == uid)
    }
}

/// An activity of a class: its id and caption (the schema's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub id: u8,
    pub name: &'static str,
}

const fn act(id: u8, name: &'static str) -> Activity {
    Activity { id, name }
}

const OTHER: Activity = act(99, "Other");

/// The class and activity of a record with this `eventSource` and
/// `eventName`.
pub fn classify(source: &str, name: &str) -> (Class, Activity) {
    if let Some(a) = authentication(source, name) {
        return (Class::Authentication, a);
    }
    if source == "iam.amazonaws.com"
        && let Some(a) = account_change(name)
    {
        return (Class::AccountChange, a);
    }
    (Class::ApiActivity, api_activity(name))
}

/// Sign-ins and the calls that hand out role or session credentials.
fn authentication(source: &str, name: &str) -> Option<Activity> {
    match (source, name) {
        ("signin.amazonaws.com", "ConsoleLogin" | "SwitchRole" | "CheckMfa") => {
            Some(act(1, "Logon"))
        }
        ("signin.amazonaws.com", "ExitRole" | "ConsoleLogout") => Some(act(2, "Logoff")),
        ("signin.amazonaws.com", _) => Some(OTHER),
        (
            "sts.amazonaws.com",
            "AssumeRole"
            | "AssumeRoleWithSAML"
            | "AssumeRoleWithWebIdentity"
            | "AssumeRoot"
            | "GetFederationToken"
            | "GetSessionToken",
        ) => Some(act(3, "Authentication Ticket")),
        ("sso.amazonaws.com" | "portal.sso.amazonaws.com", "Authenticate" | "Federate") => {
            Some(act(1, "Logon"))
        }
        ("sso.amazonaws.com" | "portal.sso.amazonaws.com", "Logout") => Some(act(2, "Logoff")),
        _ => None,
    }
}

/// Changes to IAM users and roles and to their credentials and policies.
fn account_change(name: &str) -> Option<Activity> {
    Some(match name {
        "CreateUser" | "CreateRole" => act(1, "Create"),
        "ChangePassword" => act(3, "Password Change"),
        "CreateLoginProfile" | "UpdateLoginProfile" => act(4, "Password Reset"),
        "DeleteUser" | "DeleteRole" | "DeleteLoginProfile" => act(6, "Delete"),
        "AttachUserPolicy"
        | "AttachRolePolicy"
        | "PutUserPolicy"
        | "PutRolePolicy"
        | "AddUserToGroup"
        | "PutUserPermissionsBoundary"
        | "PutRolePermissionsBoundary" => act(7, "Attach Policy"),
        "DetachUserPolicy"
        | "DetachRolePolicy"
        | "DeleteUserPolicy"
        | "DeleteRolePolicy"
        | "RemoveUserFromGroup"
        | "DeleteUserPermissionsBoundary"
        | "DeleteRolePermissionsBoundary" => act(8, "Detach Policy"),
        "EnableMFADevice" | "CreateVirtualMFADevice" => act(10, "MFA Factor Enable"),
        "DeactivateMFADevice" | "DeleteVirtualMFADevice" => act(11, "MFA Factor Disable"),
        "CreateAccessKey"
        | "UpdateAccessKey"
        | "DeleteAccessKey"
        | "UpdateUser"
        | "UpdateRole"
        | "UpdateAssumeRolePolicy"
        | "UploadSSHPublicKey"
        | "UploadSigningCertificate"
        | "CreateServiceSpecificCredential" => OTHER,
        _ => return None,
    })
}

/// API Activity's activity from the verb the name starts with.
fn api_activity(name: &str) -> Activity {
    const CREATE: &[&str] = &[
        "Create", "Run", "Allocate", "Import", "Copy", "Issue", "Request",
    ];
    const READ: &[&str] = &[
        "Get", "Describe", "List", "Head", "Lookup", "Search", "Select", "Scan", "Query",
        "BatchGet", "View", "Check", "Decrypt", "Download", "Filter", "Preview",
    ];
    const UPDATE: &[&str] = &[
        "Update",
        "Modify",
        "Put",
        "Set",
        "Change",
        "Attach",
        "Detach",
        "Associate",
        "Disassociate",
        "Enable",
        "Disable",
        "Start",
        "Stop",
        "Authorize",
        "Revoke",
        "Replace",
        "Reset",
        "Tag",
        "Untag",
        "Register",
        "Restore",
        "Add",
        "Apply",
        "Upload",
        "Edit",
        "Reboot",
        "Assign",
        "Unassign",
        "Publish",
        "Send",
    ];
    const DELETE: &[&str] = &[
        "Delete",
        "Remove",
        "Terminate",
        "Release",
        "Deregister",
        "Purge",
    ];
    let starts = |verbs: &[&str]| {
        verbs.iter().any(|v| {
            name.strip_prefix(v).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| !c.is_lowercase())
            })
        })
    };
    if starts(CREATE) {
        act(1, "Create")
    } else if starts(READ) {
        act(2, "Read")
    } else if starts(DELETE) {
        act(4, "Delete")
    } else if starts(UPDATE) {
        act(3, "Update")
    } else {
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_picks_the_class_and_activity() {
        let c = |s, n| {
            let (class, a) = classify(s, n);
            (class, a.id)
        };
        assert_eq!(
            c("signin.amazonaws.com", "ConsoleLogin"),
            (Class::Authentication, 1)
        );
        assert_eq!(
            c("sts.amazonaws.com", "AssumeRole"),
            (Class::Authentication, 3)
        );
        assert_eq!(
            c("sts.amazonaws.com", "GetCallerIdentity"),
            (Class::ApiActivity, 2)
        );
        assert_eq!(
            c("iam.amazonaws.com", "CreateUser"),
            (Class::AccountChange, 1)
        );
        assert_eq!(
            c("iam.amazonaws.com", "AttachUserPolicy"),
            (Class::AccountChange, 7)
        );
        assert_eq!(
            c("iam.amazonaws.com", "CreateAccessKey"),
            (Class::AccountChange, 99)
        );
        assert_eq!(
            c("iam.amazonaws.com", "CreatePolicyVersion"),
            (Class::ApiActivity, 1)
        );
        assert_eq!(c("iam.amazonaws.com", "ListUsers"), (Class::ApiActivity, 2));
        assert_eq!(
            c("ec2.amazonaws.com", "RunInstances"),
            (Class::ApiActivity, 1)
        );
        assert_eq!(
            c("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
            (Class::ApiActivity, 3)
        );
        assert_eq!(
            c("s3.amazonaws.com", "PutBucketPolicy"),
            (Class::ApiActivity, 3)
        );
        assert_eq!(
            c("ec2.amazonaws.com", "TerminateInstances"),
            (Class::ApiActivity, 4)
        );
        assert_eq!(
            c("cloudtrail.amazonaws.com", "StopLogging"),
            (Class::ApiActivity, 3)
        );
        // A verb must end where the next word starts: "Settle" is no "Set".
        assert_eq!(c("x.amazonaws.com", "Settle"), (Class::ApiActivity, 99));
        assert_eq!(
            c("x.amazonaws.com", "ConsoleLogin"),
            (Class::ApiActivity, 99)
        );
    }

    #[test]
    fn class_ids_and_names_round_trip() {
        for c in Class::ALL {
            assert_eq!(Class::from_uid(i64::from(c.uid())), Some(c));
        }
        assert_eq!(Class::from_uid(2004), None);
    }
}
