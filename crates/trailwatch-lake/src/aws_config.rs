//! The AWS shared config and credentials files (`~/.aws/config`,
//! `~/.aws/credentials`), read the way the AWS CLI reads them, for the
//! settings object_store does not take from the environment itself: a
//! profile's keys, region and `endpoint_url`.

use std::path::PathBuf;

use ini::Ini;

/// Settings for one profile; environment variables win over these.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProfileSettings {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

fn home_file(env: &str, rel: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env)
        && !p.is_empty()
    {
        return Some(PathBuf::from(p));
    }
    dirs::home_dir().map(|h| h.join(rel))
}

fn get(ini: &Ini, section: &str, key: &str) -> Option<String> {
    ini.section(Some(section))
        .and_then(|s| s.get(key))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Settings of `AWS_PROFILE` (or `default`) from the shared files; missing
/// or unreadable files give no settings.
pub fn profile_settings() -> ProfileSettings {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let creds = home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials")
        .and_then(|p| Ini::load_from_file(p).ok());
    let config =
        home_file("AWS_CONFIG_FILE", ".aws/config").and_then(|p| Ini::load_from_file(p).ok());
    // In the config file, profiles other than default are `[profile NAME]`.
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    let from_either = |key: &str| {
        creds
            .as_ref()
            .and_then(|c| get(c, &profile, key))
            .or_else(|| config.as_ref().and_then(|c| get(c, &config_section, key)))
    };
    ProfileSettings {
        access_key_id: from_either("aws_access_key_id"),
        secret_access_key: from_either("aws_secret_access_key"),
        session_token: from_either("aws_session_token"),
        region: config
            .as_ref()
            .and_then(|c| get(c, &config_section, "region")),
        endpoint_url: config
            .as_ref()
            .and_then(|c| get(c, &config_section, "endpoint_url")),
    }
}
