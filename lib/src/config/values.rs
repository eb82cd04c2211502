//! The typed values a drop-in may set, each parsed from its TOML form and checked. Problems come
//! back as a plain message; the caller prefixes it with the file and the key.

use std::fmt;
use std::path::PathBuf;

use chrono::Weekday;
use serde::{Serialize, Serializer};

/// `trust.policy`: whether graphs must carry a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TrustPolicy {
    #[serde(rename = "require")]
    Require,
    #[serde(rename = "allow-unsigned")]
    AllowUnsigned,
}

/// `host.backend`: how the host is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backend {
    /// Detect at run time.
    #[serde(rename = "auto")]
    Auto,
    /// The native libostree backend.
    #[serde(rename = "ostree")]
    Ostree,
    #[serde(rename = "bootc")]
    Bootc,
    #[serde(rename = "rpm-ostree")]
    RpmOstree,
}

/// `updates.strategy`: when a staged hop may be rebooted into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Strategy {
    #[serde(rename = "immediate")]
    Immediate,
    /// Only inside `updates.periodic.window`s.
    #[serde(rename = "periodic")]
    Periodic,
    /// After taking a FleetLock slot at `updates.fleet_lock_url`.
    #[serde(rename = "fleet_lock")]
    FleetLock,
}

/// Names of enum values as written in TOML, in the order they are listed in messages.
trait Named: Sized + Copy + 'static {
    const ALL: &'static [(&'static str, Self)];

    fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = Self::ALL.iter().map(|(n, _)| format!("{n:?}")).collect();
                format!("{s:?} is not one of {}", names.join(", "))
            })
    }
}

impl Named for TrustPolicy {
    const ALL: &'static [(&'static str, Self)] = &[
        ("require", Self::Require),
        ("allow-unsigned", Self::AllowUnsigned),
    ];
}

impl Named for Backend {
    const ALL: &'static [(&'static str, Self)] = &[
        ("auto", Self::Auto),
        ("ostree", Self::Ostree),
        ("bootc", Self::Bootc),
        ("rpm-ostree", Self::RpmOstree),
    ];
}

impl Named for Strategy {
    const ALL: &'static [(&'static str, Self)] = &[
        ("immediate", Self::Immediate),
        ("periodic", Self::Periodic),
        ("fleet_lock", Self::FleetLock),
    ];
}

macro_rules! named_impls {
    ($($t:ty),*) => {$(
        impl $t {
            /// Parse the TOML spelling.
            pub fn parse(s: &str) -> Result<Self, String> {
                <Self as Named>::parse(s)
            }

            /// The TOML spelling.
            pub fn as_str(self) -> &'static str {
                Self::ALL
                    .iter()
                    .find(|(_, v)| *v == self)
                    .map(|(n, _)| *n)
                    .expect("every variant is named")
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
named_impls!(TrustPolicy, Backend, Strategy);

/// A wall-clock time of day, `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    /// Strictly `HH:MM` (two digits each, 00:00 to 23:59).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a time of day in HH:MM form (00:00 to 23:59)");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return Err(bad());
        }
        let (hour, minute): (u8, u8) =
            (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if hour > 23 || minute > 59 {
            return Err(bad());
        }
        Ok(Self { hour, minute })
    }

    pub fn hour(self) -> u8 {
        self.hour
    }

    pub fn minute(self) -> u8 {
        self.minute
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u32 {
        u32::from(self.hour) * 60 + u32::from(self.minute)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `updates.periodic.time_zone`: the zone the windows' days and times are read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeZone {
    Utc,
    /// The system's zone (`/etc/localtime`).
    Localtime,
    /// An IANA time zone name such as `Europe/Berlin`; only its shape is checked here.
    Named(String),
}

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "UTC" => return Ok(Self::Utc),
            "localtime" => return Ok(Self::Localtime),
            _ => {}
        }
        let part_ok = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_alphabetic())
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        };
        if s.len() <= 128 && s.split('/').all(part_ok) {
            Ok(Self::Named(s.to_string()))
        } else {
            Err(format!(
                "{s:?} is not a time zone: expected \"UTC\", \"localtime\" or an IANA name such as \"Europe/Berlin\""
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Utc => "UTC",
            Self::Localtime => "localtime",
            Self::Named(n) => n,
        }
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The longest window: a week (anything longer is always open).
pub const MAX_WINDOW_MINUTES: u32 = 7 * 24 * 60;

/// One `[[updates.periodic.window]]`: on each of `days`, from `start_time` for `length_minutes`
/// (possibly past midnight, or past the end of the week).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    /// In the order written, without repeats.
    pub days: Vec<Weekday>,
    pub start_time: TimeOfDay,
    pub length_minutes: u32,
}

/// A weekday in C-locale English, full or abbreviated, any case (`Mon`, `monday`).
pub fn parse_weekday(s: &str) -> Result<Weekday, String> {
    s.parse::<Weekday>()
        .map_err(|_| format!("{s:?} is not a day of the week (Mon, Tue, … or Monday, Tuesday, …)"))
}

/// A window length in minutes: `1..=MAX_WINDOW_MINUTES`.
pub fn window_length(n: i64) -> Result<u32, String> {
    u32::try_from(n)
        .ok()
        .filter(|m| (1..=MAX_WINDOW_MINUTES).contains(m))
        .ok_or_else(|| {
            format!("{n} is out of range 1..={MAX_WINDOW_MINUTES} (minutes, up to a week)")
        })
}

/// A rollout wariness in `0.0..=1.0`.
pub fn wariness(w: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&w) {
        Ok(w)
    } else {
        Err(format!("{w} is out of range 0.0..=1.0"))
    }
}

/// An absolute path.
pub fn absolute_path(s: &str) -> Result<PathBuf, String> {
    if s.starts_with('/') && !s.contains('\0') {
        Ok(PathBuf::from(s))
    } else {
        Err(format!("{s:?} is not an absolute path"))
    }
}

/// A graph source: an absolute file path, `file:/PATH`, or a URI [`crate::sources::Source`]
/// understands (`https://…`, `http://…`, `oci:…`); checked here so a typo fails at config time.
pub fn graph_source(s: &str) -> Result<String, String> {
    if s.trim().is_empty() || s.trim() != s {
        return Err(format!(
            "{s:?} is not a graph source (empty, or surrounding blanks)"
        ));
    }
    let path = match s.split_once(':') {
        Some(("file", rest)) => rest.strip_prefix("//").unwrap_or(rest),
        Some((scheme, _)) if !scheme.contains('/') && scheme.len() > 1 => {
            return crate::sources::Source::parse(s)
                .map(|_| s.to_string())
                .map_err(|e| e.to_string());
        }
        _ => s,
    };
    if path.starts_with('/') {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not an absolute path (config files cannot name a path relative to an unknown directory)"
        ))
    }
}

/// A FleetLock group (the protocol allows `[A-Za-z0-9.-]+`).
pub fn group(s: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a group name (letters, digits, '.' and '-', not empty)"
        ))
    }
}

/// An `http://` or `https://` URL with a host; only its shape is checked.
pub fn http_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    match host {
        Some(h) if !h.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Ok(s.to_string())
        }
        _ => Err(format!(
            "{s:?} is not an http:// or https:// URL with a host"
        )),
    }
}
