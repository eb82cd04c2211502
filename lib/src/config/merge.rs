//! Merging drop-in contents into a [`Config`] (no I/O here): each file is parsed as TOML and its
//! keys are checked and applied over what earlier files set, recording the file per value.
//! Unknown keys become warnings; invalid values become errors naming the file and the key. Every
//! problem of every file is collected, so one run reports all of them.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use super::model::{Config, Sourced, Warning};
use super::values::{self, Backend, Strategy, TimeOfDay, TimeZone, TrustPolicy, Window};

/// The result of [`merge`].
#[derive(Debug, Clone)]
pub struct Merged {
    pub config: Config,
    pub warnings: Vec<Warning>,
    /// `FILE: KEY: problem`, one per invalid value; the config is unusable when not empty.
    pub errors: Vec<String>,
}

/// Apply `files` (path and contents) in order over the defaults, then check the settings that
/// depend on each other.
pub fn merge(files: &[(PathBuf, String)]) -> Merged {
    let mut m = Merged {
        config: Config::default(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    for (file, text) in files {
        let mut cx = Cx {
            file,
            warnings: &mut m.warnings,
            errors: &mut m.errors,
        };
        cx.apply(&mut m.config, text);
    }
    check(&m.config, &mut m.errors);
    m
}

/// Cross-key rules, checked once everything is merged.
fn check(config: &Config, errors: &mut Vec<String>) {
    let strategy = &config.updates.strategy;
    let at = || match &strategy.file {
        Some(f) => format!("{}: updates.strategy", f.display()),
        None => "updates.strategy".into(),
    };
    match strategy.value {
        Strategy::FleetLock if config.updates.fleet_lock_url.is_none() => errors.push(format!(
            "{}: \"fleet_lock\" needs updates.fleet_lock_url (the FleetLock server), which no drop-in sets",
            at()
        )),
        Strategy::Periodic if config.updates.periodic.windows.is_empty() => errors.push(format!(
            "{}: \"periodic\" needs at least one [[updates.periodic.window]], and no drop-in defines one",
            at()
        )),
        _ => {}
    }
}

/// Applying one file.
struct Cx<'a> {
    file: &'a Path,
    warnings: &'a mut Vec<Warning>,
    errors: &'a mut Vec<String>,
}

impl Cx<'_> {
    fn warn_unknown(&mut self, key: String) {
        self.warnings.push(Warning {
            file: self.file.to_path_buf(),
            key: Some(key),
            message: "unknown key, ignored".into(),
        });
    }

    fn error(&mut self, key: &str, problem: impl Display) {
        self.errors
            .push(format!("{}: {key}: {problem}", self.file.display()));
    }

    /// `check` on the value of `key`; the error (with file and key) is recorded on failure.
    fn get<T>(
        &mut self,
        key: &str,
        v: &Value,
        check: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        check(v).map_err(|e| self.error(key, e)).ok()
    }

    fn sourced<T>(&self, value: T) -> Sourced<T> {
        Sourced::from_file(value, self.file)
    }

    /// The sub-table at `key`, or an error.
    fn table<'v>(&mut self, key: &str, v: &'v Value) -> Option<&'v Table> {
        match v {
            Value::Table(t) => Some(t),
            other => {
                self.error(key, format!("expected a table, found {}", found(other)));
                None
            }
        }
    }

    fn apply(&mut self, config: &mut Config, text: &str) {
        let root: Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(format!(
                    "{}: not valid TOML: {}",
                    self.file.display(),
                    e.to_string().trim_end()
                ));
                return;
            }
        };
        for (k, v) in &root {
            match k.as_str() {
                "graph" => self.graph(config, v),
                "trust" => self.trust(config, v),
                "identity" => self.identity(config, v),
                "host" => self.host(config, v),
                "updates" => self.updates(config, v),
                _ => self.warn_unknown(k.clone()),
            }
        }
    }

    fn graph(&mut self, config: &mut Config, v: &Value) {
        let Some(t) = self.table("graph", v) else {
            return;
        };
        for (k, v) in t {
            match k.as_str() {
                "source" => {
                    let key = "graph.source";
                    if let Some(s) = self.get(key, v, |v| string(v).and_then(values::graph_source))
                    {
                        config.graph.source = Some(self.sourced(s));
                    }
                }
                _ => self.warn_unknown(format!("graph.{k}")),
            }
        }
    }

    fn trust(&mut self, config: &mut Config, v: &Value) {
        let Some(t) = self.table("trust", v) else {
            return;
        };
        for (k, v) in t {
            match k.as_str() {
                "policy" => {
                    if let Some(p) = self.get("trust.policy", v, |v| {
                        string(v).and_then(TrustPolicy::parse)
                    }) {
                        config.trust.policy = self.sourced(p);
                    }
                }
                "keys_dirs" => {
                    let dirs = self.get("trust.keys_dirs", v, |v| {
                        strings(v)?
                            .into_iter()
                            .map(values::absolute_path)
                            .collect::<Result<Vec<_>, _>>()
                    });
                    if let Some(d) = dirs {
                        config.trust.keys_dirs = self.sourced(d);
                    }
                }
                _ => self.warn_unknown(format!("trust.{k}")),
            }
        }
    }

    fn identity(&mut self, config: &mut Config, v: &Value) {
        let Some(t) = self.table("identity", v) else {
            return;
        };
        for (k, v) in t {
            match k.as_str() {
                "rollout_wariness" => {
                    let key = "identity.rollout_wariness";
                    if let Some(w) = self.get(key, v, |v| number(v).and_then(values::wariness)) {
                        config.identity.rollout_wariness = Some(self.sourced(w));
                    }
                }
                "group" => {
                    if let Some(g) =
                        self.get("identity.group", v, |v| string(v).and_then(values::group))
                    {
                        config.identity.group = self.sourced(g);
                    }
                }
                _ => self.warn_unknown(format!("identity.{k}")),
            }
        }
    }

    fn host(&mut self, config: &mut Config, v: &Value) {
        let Some(t) = self.table("host", v) else {
            return;
        };
        for (k, v) in t {
            match k.as_str() {
                "backend" => {
                    if let Some(b) =
                        self.get("host.backend", v, |v| string(v).and_then(Backend::parse))
                    {
                        config.host.backend = self.sourced(b);
                    }
                }
                "state_dir" => {
                    let key = "host.state_dir";
                    if let Some(d) = self.get(key, v, |v| string(v).and_then(values::absolute_path))
                    {
                        config.host.state_dir = self.sourced(d);
                    }
                }
                _ => self.warn_unknown(format!("host.{k}")),
            }
        }
    }

    fn updates(&mut self, config: &mut Config, v: &Value) {
        let Some(t) = self.table("updates", v) else {
            return;
        };
        for (k, v) in t {
            match k.as_str() {
                "strategy" => {
                    if let Some(s) = self.get("updates.strategy", v, |v| {
                        string(v).and_then(Strategy::parse)
                    }) {
                        config.updates.strategy = self.sourced(s);
                    }
                }
                "fleet_lock_url" => {
                    let key = "updates.fleet_lock_url";
                    if let Some(u) = self.get(key, v, |v| string(v).and_then(values::http_url)) {
                        config.updates.fleet_lock_url = Some(self.sourced(u));
                    }
                }
                "periodic" => self.periodic(config, v),
                _ => self.warn_unknown(format!("updates.{k}")),
            }
        }
    }

    fn periodic(&mut self, config: &mut Config, v: &Value) {
        let Some(t) = self.table("updates.periodic", v) else {
            return;
        };
        for (k, v) in t {
            match k.as_str() {
                "time_zone" => {
                    let key = "updates.periodic.time_zone";
                    if let Some(z) = self.get(key, v, |v| string(v).and_then(TimeZone::parse)) {
                        config.updates.periodic.time_zone = self.sourced(z);
                    }
                }
                "window" => {
                    let Value::Array(list) = v else {
                        let problem = format!(
                            "expected [[updates.periodic.window]] tables, found {}",
                            found(v)
                        );
                        self.error("updates.periodic.window", problem);
                        continue;
                    };
                    for (i, w) in list.iter().enumerate() {
                        let key = format!("updates.periodic.window[{i}]");
                        if let Some(window) = self.window(&key, w) {
                            config.updates.periodic.windows.push(self.sourced(window));
                        }
                    }
                }
                _ => self.warn_unknown(format!("updates.periodic.{k}")),
            }
        }
    }

    fn window(&mut self, key: &str, v: &Value) -> Option<Window> {
        let t = self.table(key, v)?;
        let mut days = None;
        let mut start_time = None;
        let mut length_minutes = None;
        let errors_before = self.errors.len();
        for (k, v) in t {
            let sub = format!("{key}.{k}");
            match k.as_str() {
                "days" => days = self.get(&sub, v, window_days),
                "start_time" => {
                    start_time = self.get(&sub, v, |v| string(v).and_then(TimeOfDay::parse))
                }
                "length_minutes" => {
                    length_minutes =
                        self.get(&sub, v, |v| integer(v).and_then(values::window_length))
                }
                _ => self.warn_unknown(sub),
            }
        }
        if self.errors.len() > errors_before {
            return None; // already reported
        }
        let missing: Vec<&str> = [
            ("days", days.is_none()),
            ("start_time", start_time.is_none()),
            ("length_minutes", length_minutes.is_none()),
        ]
        .into_iter()
        .filter_map(|(k, absent)| absent.then_some(k))
        .collect();
        if !missing.is_empty() {
            self.error(key, format!("missing {}", missing.join(", ")));
            return None;
        }
        Some(Window {
            days: days?,
            start_time: start_time?,
            length_minutes: length_minutes?,
        })
    }
}

/// `days = ["Sat", "Sun"]`: at least one, repeats dropped.
fn window_days(v: &Value) -> Result<Vec<chrono::Weekday>, String> {
    let names = strings(v)?;
    if names.is_empty() {
        return Err("expected at least one day".into());
    }
    let mut days = Vec::new();
    for n in names {
        let d = values::parse_weekday(n)?;
        if !days.contains(&d) {
            days.push(d);
        }
    }
    Ok(days)
}

/// `integer 5`, `string "x"`: the TOML type and value, for messages.
fn found(v: &Value) -> String {
    format!("{} {v}", v.type_str())
}

fn string(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a string, found {}", found(v)))
}

fn strings(v: &Value) -> Result<Vec<&str>, String> {
    let err = || format!("expected an array of strings, found {}", found(v));
    v.as_array()
        .ok_or_else(err)?
        .iter()
        .map(|x| x.as_str().ok_or_else(err))
        .collect()
}

/// A float or an integer.
fn number(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Integer(i) => Ok(*i as f64),
        other => Err(format!("expected a number, found {}", found(other))),
    }
}

fn integer(v: &Value) -> Result<i64, String> {
    v.as_integer()
        .ok_or_else(|| format!("expected an integer, found {}", found(v)))
}
