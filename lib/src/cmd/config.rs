//! `bootc-checkpoint config show`: the merged drop-ins, and the file every value came from.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use toml::Value;

use super::{Exit, Format};
use crate::config::{self, Loaded, Sourced};
use crate::spec::Versioned;

/// Print the configuration under `root` (`/` on a host): as TOML annotated with each value's
/// file (text), or as `kind: Config` (JSON).
pub fn show(out: &mut dyn Write, root: &Path, format: Format) -> Result<Exit> {
    let loaded = config::load(root)?;
    let text = match format {
        Format::Json | Format::Yaml => Versioned::new("Config", &loaded).render(format),
        Format::Text => render(&loaded),
    };
    out.write_all(text.as_bytes())
        .context("writing to stdout")?;
    Ok(Exit::Success)
}

/// Lines of `key = value  # origin`, aligned.
#[derive(Default)]
struct Section {
    lines: Vec<(String, String)>,
}

impl Section {
    fn set<T>(&mut self, key: &str, v: &Sourced<T>, toml: impl Fn(&T) -> Value) {
        let origin = match &v.file {
            Some(f) => f.display().to_string(),
            None => "default".into(),
        };
        self.lines
            .push((format!("{key} = {}", toml(&v.value)), origin));
    }

    fn maybe<T>(
        &mut self,
        key: &str,
        v: Option<&Sourced<T>>,
        unset: &str,
        toml: impl Fn(&T) -> Value,
    ) {
        match v {
            Some(v) => self.set(key, v, toml),
            None => self
                .lines
                .push((format!("# {key} is not set"), unset.into())),
        }
    }
}

fn string(s: impl ToString) -> Value {
    Value::String(s.to_string())
}

fn render(l: &Loaded) -> String {
    let c = &l.config;
    let mut s = String::new();
    if l.files.is_empty() {
        s.push_str("# No drop-ins; built-in defaults. Searched, lowest priority first:\n");
        for d in &l.directories {
            let _ = writeln!(s, "#   {}", d.display());
        }
    } else {
        s.push_str("# Merged from, in this order:\n");
        for f in &l.files {
            let _ = writeln!(s, "#   {}", f.display());
        }
    }
    for o in &l.overridden {
        let how = if o.masked { "masked" } else { "replaced" };
        let _ = writeln!(s, "# {} is {how} by {}", o.file.display(), o.by.display());
    }
    for m in &l.masks {
        if !l.overridden.iter().any(|o| &o.by == m) {
            let _ = writeln!(s, "# {} masks nothing", m.display());
        }
    }
    for w in &l.warnings {
        let _ = writeln!(s, "# warning: {w}");
    }

    let mut sections: Vec<(&str, Section)> = Vec::new();
    let mut graph = Section::default();
    graph.maybe(
        "source",
        c.graph.source.as_ref(),
        "use --graph, or the journey's own source",
        |v| string(v),
    );
    sections.push(("graph", graph));

    let mut trust = Section::default();
    trust.set("policy", &c.trust.policy, |v| string(v));
    trust.set("keys_dirs", &c.trust.keys_dirs, |dirs| {
        Value::Array(dirs.iter().map(|d| string(d.display())).collect())
    });
    sections.push(("trust", trust));

    let mut identity = Section::default();
    identity.maybe(
        "rollout_wariness",
        c.identity.rollout_wariness.as_ref(),
        "derived from the machine id",
        |w| Value::Float(*w),
    );
    identity.set("group", &c.identity.group, |v| string(v));
    sections.push(("identity", identity));

    let mut host = Section::default();
    host.set("backend", &c.host.backend, |v| string(v));
    host.set("state_dir", &c.host.state_dir, |d| string(d.display()));
    sections.push(("host", host));

    let mut updates = Section::default();
    updates.set("strategy", &c.updates.strategy, |v| string(v));
    updates.maybe(
        "fleet_lock_url",
        c.updates.fleet_lock_url.as_ref(),
        "only needed by fleet_lock",
        |v| string(v),
    );
    sections.push(("updates", updates));

    let mut periodic = Section::default();
    periodic.set("time_zone", &c.updates.periodic.time_zone, |v| string(v));
    sections.push(("updates.periodic", periodic));

    let width = sections
        .iter()
        .flat_map(|(_, sec)| sec.lines.iter().map(|(kv, _)| kv.len()))
        .max()
        .unwrap_or(0)
        .min(40);
    for (name, sec) in &sections {
        let _ = writeln!(s, "\n[{name}]");
        for (kv, origin) in &sec.lines {
            let _ = writeln!(s, "{kv:<width$}  # {origin}");
        }
    }
    for w in &c.updates.periodic.windows {
        let origin = w.file.as_ref().map(|f| f.display().to_string());
        let _ = writeln!(
            s,
            "\n[[updates.periodic.window]]  # {}",
            origin.as_deref().unwrap_or("default")
        );
        let days = Value::Array(w.value.days.iter().map(string).collect());
        let _ = writeln!(s, "days = {days}");
        let _ = writeln!(s, "start_time = {}", string(w.value.start_time));
        let _ = writeln!(s, "length_minutes = {}", w.value.length_minutes);
    }
    s
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use cap_std_ext::cap_std::ambient_authority;
    use cap_std_ext::cap_tempfile::TempDir;
    use cap_std_ext::RootDir;
    use serde_json::Value;

    use super::*;
    use crate::config::CONFIG_DIRS;

    /// Load `files` (name, text) from /etc in a temp root.
    fn load(files: &[(&str, &str)]) -> Loaded {
        let td = TempDir::new(ambient_authority()).unwrap();
        td.create_dir_all(CONFIG_DIRS[2]).unwrap();
        for (name, text) in files {
            td.write(Path::new(CONFIG_DIRS[2]).join(name), text)
                .unwrap();
        }
        config::load_from(&RootDir::from(td.try_clone().unwrap()), Path::new("/")).unwrap()
    }

    /// The values alone, without the files they came from.
    fn values(l: &Loaded) -> Value {
        fn strip(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.remove("file");
                    m.values_mut().for_each(strip);
                }
                Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let mut v = serde_json::to_value(&l.config).unwrap();
        strip(&mut v);
        v
    }

    #[test]
    fn text_output_is_a_drop_in_with_the_same_values() {
        let cases = [
            "",
            r#"
graph.source = "file:/srv/g \"quoted\".json"
trust = { policy = "allow-unsigned", keys_dirs = [] }
identity = { rollout_wariness = 1, group = "a.b-c" }
host = { backend = "ostree", state_dir = "/srv/state" }
[updates]
strategy = "fleet_lock"
fleet_lock_url = "https://lock.example/"
periodic.time_zone = "America/Argentina/Buenos_Aires"
[[updates.periodic.window]]
days = ["sunday", "Mon"]
start_time = "23:59"
length_minutes = 10080
[[updates.periodic.window]]
days = ["Wed"]
start_time = "00:00"
length_minutes = 1
"#,
        ];
        for text in cases {
            let first = load(&[("50-in.toml", text)]);
            let shown = render(&first);
            let again = load(&[("50-shown.toml", &shown)]);
            assert!(again.warnings.is_empty(), "{:?}\n{shown}", again.warnings);
            assert_eq!(values(&again), values(&first), "{shown}");
        }
    }
}
