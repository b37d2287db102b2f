//! EC2 security groups: the ingress rules that open them to the world
//! (`0.0.0.0/0`, `::/0`), added and revoked.

use super::{Call, Posture, SecurityGroup, items, text};

pub(super) const CHANGES: &[&str] = &[
    "CreateSecurityGroup",
    "DeleteSecurityGroup",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
];

pub(super) fn apply(p: &mut Posture, c: &Call<'_>) {
    let group = text(&c.re, "groupId").or_else(|| text(&c.rp, "groupId"));
    let Some(group) = group else { return };
    let key = c.key(&group);
    if c.name == "DeleteSecurityGroup" {
        p.security_groups.remove(&key);
        return;
    }
    let g = p
        .security_groups
        .entry(key)
        .or_insert_with(|| SecurityGroup {
            account: c.account.clone(),
            region: c.region.clone(),
            partial: c.name != "CreateSecurityGroup",
            ..SecurityGroup::default()
        });
    g.changed = c.time.clone();
    for perm in items(c.rp.get("ipPermissions")) {
        let proto = text(perm, "ipProtocol").unwrap_or_else(|| "-1".into());
        let ports = match (text(perm, "fromPort"), text(perm, "toPort")) {
            (Some(f), Some(t)) => format!("{f}-{t}"),
            _ => "all".into(),
        };
        let world: Vec<String> = items(perm.get("ipRanges"))
            .into_iter()
            .filter_map(|r| text(r, "cidrIp"))
            .chain(
                items(perm.get("ipv6Ranges"))
                    .into_iter()
                    .filter_map(|r| text(r, "cidrIpv6")),
            )
            .filter(|c| c == "0.0.0.0/0" || c == "::/0")
            .collect();
        for cidr in world {
            let rule = format!("{proto} {ports} from {cidr}");
            if c.name == "RevokeSecurityGroupIngress" {
                g.open_to_world.remove(&rule);
            } else if c.name == "AuthorizeSecurityGroupIngress" {
                g.open_to_world.insert(rule);
            }
        }
    }
}
