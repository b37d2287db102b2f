//! Where an IP address is, from MaxMind-format `.mmdb` files read offline
//! (DB-IP's city database, as the install step documents, or MaxMind's
//! own GeoLite2/GeoIP2 City), and how far apart two places are.
//!
//! Addresses that say nothing about where a person is are never located:
//! AWS's service names and `AWS Internal` (not addresses at all), and
//! private, loopback, link-local, shared (CGNAT), documentation and
//! unique-local ranges.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why a GeoIP database could not be used.
#[derive(Debug, thiserror::Error)]
#[error("GeoIP database {path}: {message}")]
pub struct GeoError {
    pub path: PathBuf,
    pub message: String,
}

/// A located address: coordinates and the names people read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
    /// City name, when the database has one.
    pub city: String,
    /// ISO country code, when the database has one.
    pub country: String,
}

impl Place {
    /// `London, GB`, or the coordinates when the database names no city.
    pub fn label(&self) -> String {
        match (self.city.is_empty(), self.country.is_empty()) {
            (false, false) => format!("{}, {}", self.city, self.country),
            (false, true) => self.city.clone(),
            (true, false) => self.country.clone(),
            (true, true) => format!("{:.2},{:.2}", self.lat, self.lon),
        }
    }
}

/// A place from a record as either family of databases writes it:
/// DB-IP's flat one (`city`, `country_code`, `latitude`, `longitude`, as
/// 32-bit floats) or MaxMind's nested one (`city.names.en`,
/// `country.iso_code`, `location.latitude`, as doubles). Read as generic
/// JSON so either number width decodes.
fn place_of(v: &Value) -> Option<Place> {
    let num = |x: Option<&Value>| x.and_then(Value::as_f64);
    let (lat, lon) = match (num(v.get("latitude")), num(v.get("longitude"))) {
        (Some(a), Some(o)) => (a, o),
        _ => {
            let l = v.get("location")?;
            (num(l.get("latitude"))?, num(l.get("longitude"))?)
        }
    };
    if !lat.is_finite() || !lon.is_finite() || lat.abs() > 90.0 || lon.abs() > 180.0 {
        return None;
    }
    let text = |x: Option<&Value>| x.and_then(Value::as_str).unwrap_or_default().to_string();
    let city = match v.get("city") {
        Some(Value::String(c)) => c.clone(),
        Some(c) => text(c.get("names").and_then(|n| n.get("en"))),
        None => String::new(),
    };
    let country = match v.get("country_code") {
        Some(Value::String(c)) => c.clone(),
        _ => text(v.get("country").and_then(|c| c.get("iso_code"))),
    };
    Some(Place {
        lat,
        lon,
        city,
        country,
    })
}

/// One opened database.
struct Db {
    path: PathBuf,
    reader: maxminddb::Reader<Vec<u8>>,
}

/// The GeoIP databases given (an IPv4 and an IPv6 file, say), looked up
/// in order.
pub struct GeoIp {
    dbs: Vec<Db>,
    /// Places given directly, looked up before the files (the detection
    /// tests' small world; empty otherwise).
    fixed: Vec<(ipnet::IpNet, Place)>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.dbs.iter().map(|d| &d.path))
            .finish()
    }
}

impl GeoIp {
    /// Open every file (each read whole into memory once).
    pub fn open(paths: &[PathBuf]) -> Result<GeoIp, GeoError> {
        let mut dbs = Vec::new();
        for p in paths {
            let reader = maxminddb::Reader::open_readfile(p).map_err(|e| GeoError {
                path: p.clone(),
                message: e.to_string(),
            })?;
            dbs.push(Db {
                path: p.clone(),
                reader,
            });
        }
        Ok(GeoIp {
            dbs,
            fixed: Vec::new(),
        })
    }

    /// A "database" of these ranges and places alone.
    #[cfg(test)]
    pub(crate) fn from_table(fixed: Vec<(ipnet::IpNet, Place)>) -> GeoIp {
        GeoIp {
            dbs: Vec::new(),
            fixed,
        }
    }

    /// Where `ip` is, from the first database that knows it.
    pub fn locate(&self, ip: IpAddr) -> Option<Place> {
        if let Some((_, p)) = self.fixed.iter().find(|(net, _)| net.contains(&ip)) {
            return Some(p.clone());
        }
        for db in &self.dbs {
            // An IPv6 address in an IPv4-only file is an error: skip it.
            if db.reader.metadata().ip_version == 4 && ip.is_ipv6() {
                continue;
            }
            let Ok(found) = db.reader.lookup(ip) else {
                continue;
            };
            // A record of another shape (an ASN database, say) is no place.
            if let Ok(Some(v)) = found.decode::<Value>()
                && let Some(p) = place_of(&v)
            {
                return Some(p);
            }
        }
        None
    }

    /// The attribution the databases' licences require wherever locations
    /// are shown.
    pub fn attribution(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for db in &self.dbs {
            let kind = db.reader.metadata().database_type.to_ascii_lowercase();
            let name = file_name(&db.path).to_ascii_lowercase();
            let line = if kind.contains("geolite2") || kind.contains("geoip2") {
                "This product includes GeoLite2/GeoIP2 data created by MaxMind, https://www.maxmind.com".to_string()
            } else if kind.contains("dbip") || kind.contains("db-ip") || name.contains("dbip") {
                "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0".to_string()
            } else {
                format!(
                    "locations from {} ({})",
                    db.reader.metadata().database_type,
                    file_name(&db.path)
                )
            };
            if !out.contains(&line) {
                out.push(line);
            }
        }
        out.join("; ")
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether `ip` is an address of the public internet: not private,
/// loopback, link-local, shared (100.64/10), documentation, benchmarking,
/// multicast, unspecified or unique-local.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
                || o[0] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn distance_km(a: &Place, b: &Place) -> f64 {
    const R: f64 = 6371.0088;
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon - a.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lon: f64) -> Place {
        Place {
            lat,
            lon,
            city: String::new(),
            country: String::new(),
        }
    }

    #[test]
    fn distances_match_known_city_pairs() {
        // London to New York is about 5,570 km; a point to itself is 0.
        let d = distance_km(&at(51.5074, -0.1278), &at(40.7128, -74.0060));
        assert!((d - 5570.0).abs() < 20.0, "{d}");
        assert_eq!(distance_km(&at(10.0, 10.0), &at(10.0, 10.0)), 0.0);
        // Antipodes: half the circumference.
        let d = distance_km(&at(0.0, 0.0), &at(0.0, 180.0));
        assert!((d - 20015.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "10.0.12.31",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.51.100.23",
            "203.0.113.15",
            "192.0.2.88",
            "::1",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["81.2.69.142", "2a02:c7f::1", "::ffff:81.2.69.142"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }
}
