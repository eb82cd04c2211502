//! Config drop-in tests: which files apply, how values merge, warnings and errors, and loading
//! from a real directory tree (a temp dir standing in for `/`).

use std::path::{Path, PathBuf};

use cap_std_ext::cap_std::ambient_authority;
use cap_std_ext::cap_tempfile::TempDir;
use cap_std_ext::RootDir;
use serde_json::{json, Value};

use super::dropins::{Entry, Kind};
use super::merge::merge;
use super::*;

/// A file as (directory index, name).
type At = (usize, &'static str);
/// Drop-ins as (name, text).
type Texts = Vec<(&'static str, &'static str)>;

const USR: usize = 0;
const RUN: usize = 1;
const ETC: usize = 2;

fn dirs() -> Vec<PathBuf> {
    CONFIG_DIRS.iter().map(|d| Path::new("/").join(d)).collect()
}

fn p(dir: usize, name: &str) -> String {
    format!("/{}/{name}", CONFIG_DIRS[dir])
}

fn e(dir: usize, name: &str, kind: Kind) -> Entry {
    Entry {
        dir,
        name: name.into(),
        kind,
    }
}

mod select;

/// Files as `(name, text)`, all in /etc.
fn files(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    list.iter()
        .map(|(n, t)| (PathBuf::from(p(ETC, n)), t.to_string()))
        .collect()
}

fn json_of(c: &Config) -> Value {
    serde_json::to_value(c).unwrap()
}

#[test]
fn merge_values_table() {
    let f10 = p(ETC, "10-a.toml");
    let f20 = p(ETC, "20-b.toml");
    // (drop-ins, JSON pointer into the merged config, expected value-and-file)
    let cases: Vec<(Texts, &str, Value)> = vec![
        // Defaults.
        (vec![], "/graph/source", Value::Null),
        (
            vec![],
            "/trust/policy",
            json!({"value": "require", "file": null}),
        ),
        (
            vec![],
            "/trust/keysDirs",
            json!({"value": DEFAULT_KEYS_DIRS, "file": null}),
        ),
        (vec![], "/identity/rolloutWariness", Value::Null),
        (
            vec![],
            "/identity/group",
            json!({"value": "default", "file": null}),
        ),
        (
            vec![],
            "/host/backend",
            json!({"value": "auto", "file": null}),
        ),
        (
            vec![],
            "/host/stateDir",
            json!({"value": "/var/lib/bootc-checkpoint", "file": null}),
        ),
        (
            vec![],
            "/updates/strategy",
            json!({"value": "immediate", "file": null}),
        ),
        (vec![], "/updates/fleetLockUrl", Value::Null),
        (
            vec![],
            "/updates/periodic/timeZone",
            json!({"value": "UTC", "file": null}),
        ),
        (vec![], "/updates/periodic/window", json!([])),
        // Every key, with its file.
        (
            vec![("10-a.toml", "[graph]\nsource = \"/srv/graph.json\"\n")],
            "/graph/source",
            json!({"value": "/srv/graph.json", "file": f10}),
        ),
        (
            vec![("10-a.toml", "graph.source = \"file:///srv/g.json\"")],
            "/graph/source/value",
            json!("file:///srv/g.json"),
        ),
        (
            vec![("10-a.toml", "graph.source = \"https://example.com/g.json\"")],
            "/graph/source/value",
            json!("https://example.com/g.json"),
        ),
        (
            vec![("10-a.toml", "[trust]\npolicy = \"allow-unsigned\"")],
            "/trust/policy",
            json!({"value": "allow-unsigned", "file": f10}),
        ),
        (
            vec![("10-a.toml", "[trust]\nkeys_dirs = [\"/a\", \"/b\"]")],
            "/trust/keysDirs",
            json!({"value": ["/a", "/b"], "file": f10}),
        ),
        (
            vec![("10-a.toml", "[trust]\nkeys_dirs = []")],
            "/trust/keysDirs/value",
            json!([]),
        ),
        (
            vec![("10-a.toml", "[identity]\nrollout_wariness = 0.25")],
            "/identity/rolloutWariness",
            json!({"value": 0.25, "file": f10}),
        ),
        (
            vec![("10-a.toml", "[identity]\nrollout_wariness = 1")],
            "/identity/rolloutWariness/value",
            json!(1.0),
        ),
        (
            vec![("10-a.toml", "[identity]\ngroup = \"workers.eu-1\"")],
            "/identity/group",
            json!({"value": "workers.eu-1", "file": f10}),
        ),
        (
            vec![("10-a.toml", "[host]\nbackend = \"rpm-ostree\"")],
            "/host/backend/value",
            json!("rpm-ostree"),
        ),
        (
            vec![("10-a.toml", "[host]\nstate_dir = \"/srv/state\"")],
            "/host/stateDir",
            json!({"value": "/srv/state", "file": f10}),
        ),
        (
            vec![(
                "10-a.toml",
                "[updates]\nstrategy = \"fleet_lock\"\nfleet_lock_url = \"http://lock.example:8080/\"",
            )],
            "/updates",
            json!({
                "strategy": {"value": "fleet_lock", "file": f10},
                "fleetLockUrl": {"value": "http://lock.example:8080/", "file": f10},
                "periodic": {"timeZone": {"value": "UTC", "file": null}, "window": []},
            }),
        ),
        (
            vec![(
                "10-a.toml",
                "[updates]\nstrategy = \"periodic\"\n[updates.periodic]\ntime_zone = \"Europe/Berlin\"\n\
                 [[updates.periodic.window]]\ndays = [\"Sat\", \"sunday\", \"Sat\"]\nstart_time = \"23:30\"\nlength_minutes = 90\n",
            )],
            "/updates/periodic",
            json!({
                "timeZone": {"value": "Europe/Berlin", "file": f10},
                "window": [{"value": {"days": ["Sat", "Sun"], "startTime": "23:30", "lengthMinutes": 90}, "file": f10}],
            }),
        ),
        (
            vec![("10-a.toml", "updates.periodic.time_zone = \"localtime\"")],
            "/updates/periodic/timeZone/value",
            json!("localtime"),
        ),
        // Later files win key by key; untouched keys keep their earlier file.
        (
            vec![
                ("10-a.toml", "[identity]\nrollout_wariness = 0.1\ngroup = \"a\""),
                ("20-b.toml", "[identity]\nrollout_wariness = 0.9"),
            ],
            "/identity",
            json!({
                "rolloutWariness": {"value": 0.9, "file": f20},
                "group": {"value": "a", "file": f10},
            }),
        ),
        // Arrays are replaced, not appended.
        (
            vec![
                ("10-a.toml", "trust.keys_dirs = [\"/a\"]"),
                ("20-b.toml", "trust.keys_dirs = [\"/b\"]"),
            ],
            "/trust/keysDirs",
            json!({"value": ["/b"], "file": f20}),
        ),
        // Windows add up across files.
        (
            vec![
                (
                    "10-a.toml",
                    "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"01:00\"\nlength_minutes = 30",
                ),
                (
                    "20-b.toml",
                    "[updates]\nstrategy = \"periodic\"\n[[updates.periodic.window]]\ndays = [\"Wed\"]\nstart_time = \"00:00\"\nlength_minutes = 10080",
                ),
            ],
            "/updates/periodic/window",
            json!([
                {"value": {"days": ["Mon"], "startTime": "01:00", "lengthMinutes": 30}, "file": f10},
                {"value": {"days": ["Wed"], "startTime": "00:00", "lengthMinutes": 10080}, "file": f20},
            ]),
        ),
        // An empty file changes nothing.
        (
            vec![("10-a.toml", "")],
            "/host/backend",
            json!({"value": "auto", "file": null}),
        ),
    ];
    for (list, pointer, want) in cases {
        let m = merge(&files(&list));
        assert!(m.errors.is_empty(), "{list:?}: {:?}", m.errors);
        assert!(m.warnings.is_empty(), "{list:?}: {:?}", m.warnings);
        let got = json_of(&m.config);
        let got = got
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} missing in {got:#}"));
        assert_eq!(got, &want, "{list:?} at {pointer}");
    }
}

#[test]
fn merge_errors_table() {
    let f = p(ETC, "50-x.toml");
    // (drop-in text, every error expected, without the "FILE: " prefix)
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "[identity]\nrollout_wariness = 1.5",
            vec!["identity.rollout_wariness: 1.5 is out of range 0.0..=1.0"],
        ),
        (
            "identity.rollout_wariness = -1",
            vec!["identity.rollout_wariness: -1 is out of range 0.0..=1.0"],
        ),
        (
            "identity.rollout_wariness = nan",
            vec!["identity.rollout_wariness: NaN is out of range 0.0..=1.0"],
        ),
        (
            "identity.rollout_wariness = \"high\"",
            vec!["identity.rollout_wariness: expected a number, found string \"high\""],
        ),
        (
            "identity.group = \"a b\"",
            vec!["identity.group: \"a b\" is not a group name (letters, digits, '.' and '-', not empty)"],
        ),
        (
            "graph.source = \"graphs/g.json\"",
            vec!["graph.source: \"graphs/g.json\" is not an absolute path (config files cannot name a path relative to an unknown directory)"],
        ),
        (
            "graph.source = \"file:g.json\"",
            vec!["graph.source: \"file:g.json\" is not an absolute path (config files cannot name a path relative to an unknown directory)"],
        ),
        (
            "graph.source = \"ftp://h/g.json\"",
            vec!["graph.source: graph source \"ftp://h/g.json\": the ftp: scheme is not supported (use a path, file:, https://, http:// or oci:)"],
        ),
        (
            "graph.source = \"oci:graph\"",
            vec!["graph.source: graph source \"oci:graph\": expected oci:REGISTRY/REPOSITORY:TAG"],
        ),
        (
            "graph.source = 5",
            vec!["graph.source: expected a string, found integer 5"],
        ),
        (
            "graph = \"x\"",
            vec!["graph: expected a table, found string \"x\""],
        ),
        (
            "trust.policy = \"maybe\"",
            vec!["trust.policy: \"maybe\" is not one of \"require\", \"allow-unsigned\""],
        ),
        (
            "trust.keys_dirs = [\"keys\"]",
            vec!["trust.keys_dirs: \"keys\" is not an absolute path"],
        ),
        (
            "trust.keys_dirs = \"/keys\"",
            vec!["trust.keys_dirs: expected an array of strings, found string \"/keys\""],
        ),
        (
            "host.backend = \"dnf\"",
            vec!["host.backend: \"dnf\" is not one of \"auto\", \"ostree\", \"bootc\", \"rpm-ostree\""],
        ),
        (
            "host.state_dir = \"var/lib/x\"",
            vec!["host.state_dir: \"var/lib/x\" is not an absolute path"],
        ),
        (
            "updates.strategy = \"fleet-lock\"",
            vec!["updates.strategy: \"fleet-lock\" is not one of \"immediate\", \"periodic\", \"fleet_lock\""],
        ),
        (
            "updates.strategy = \"fleet_lock\"",
            vec!["updates.strategy: \"fleet_lock\" needs updates.fleet_lock_url (the FleetLock server), which no drop-in sets"],
        ),
        (
            "updates.strategy = \"periodic\"",
            vec!["updates.strategy: \"periodic\" needs at least one [[updates.periodic.window]], and no drop-in defines one"],
        ),
        (
            "updates.fleet_lock_url = \"lock.example\"",
            vec!["updates.fleet_lock_url: \"lock.example\" is not an http:// or https:// URL with a host"],
        ),
        (
            "updates.fleet_lock_url = \"https:///x\"",
            vec!["updates.fleet_lock_url: \"https:///x\" is not an http:// or https:// URL with a host"],
        ),
        (
            "updates.periodic.time_zone = \"Europe/../Berlin\"",
            vec!["updates.periodic.time_zone: \"Europe/../Berlin\" is not a time zone: expected \"UTC\", \"localtime\" or an IANA name such as \"Europe/Berlin\""],
        ),
        (
            "updates.periodic.time_zone = \"/etc/localtime\"",
            vec!["updates.periodic.time_zone: \"/etc/localtime\" is not a time zone: expected \"UTC\", \"localtime\" or an IANA name such as \"Europe/Berlin\""],
        ),
        (
            "[[updates.periodic.window]]\ndays = [\"Mo\"]\nstart_time = \"7:00\"\nlength_minutes = 0",
            vec![
                "updates.periodic.window[0].days: \"Mo\" is not a day of the week (Mon, Tue, … or Monday, Tuesday, …)",
                "updates.periodic.window[0].length_minutes: 0 is out of range 1..=10080 (minutes, up to a week)",
                "updates.periodic.window[0].start_time: \"7:00\" is not a time of day in HH:MM form (00:00 to 23:59)",
            ],
        ),
        (
            "[[updates.periodic.window]]\ndays = []\nstart_time = \"24:00\"\nlength_minutes = 10081",
            vec![
                "updates.periodic.window[0].days: expected at least one day",
                "updates.periodic.window[0].length_minutes: 10081 is out of range 1..=10080 (minutes, up to a week)",
                "updates.periodic.window[0].start_time: \"24:00\" is not a time of day in HH:MM form (00:00 to 23:59)",
            ],
        ),
        (
            "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"12:00\"\nlength_minutes = 10\n\
             [[updates.periodic.window]]\ndays = [\"Tue\"]",
            vec!["updates.periodic.window[1]: missing start_time, length_minutes"],
        ),
        (
            "updates.periodic.window = 3",
            vec!["updates.periodic.window: expected [[updates.periodic.window]] tables, found integer 3"],
        ),
        (
            "[[updates.periodic.window]]\nstart_time = 1200\ndays=[\"Mon\"]\nlength_minutes = \"10\"",
            vec![
                "updates.periodic.window[0].length_minutes: expected an integer, found string \"10\"",
                "updates.periodic.window[0].start_time: expected a string, found integer 1200",
            ],
        ),
        // Several problems in one file are all reported.
        (
            "host.backend = 1\nidentity.group = \"\"",
            vec![
                "host.backend: expected a string, found integer 1",
                "identity.group: \"\" is not a group name (letters, digits, '.' and '-', not empty)",
            ],
        ),
    ];
    for (text, want) in cases {
        let m = merge(&files(&[("50-x.toml", text)]));
        let mut got: Vec<String> = m.errors.clone();
        got.sort();
        let mut want: Vec<String> = want.iter().map(|w| format!("{f}: {w}")).collect();
        want.sort();
        assert_eq!(got, want, "{text:?}");
    }
}

#[test]
fn merge_syntax_error_names_file() {
    let m = merge(&files(&[("50-x.toml", "[graph\nsource = 1")]));
    assert_eq!(m.errors.len(), 1);
    assert!(
        m.errors[0].starts_with(&format!("{}: not valid TOML: ", p(ETC, "50-x.toml"))),
        "{:?}",
        m.errors
    );
}

#[test]
fn merge_fleet_lock_url_from_another_file() {
    // The cross-key check runs on the merged result: the URL may come from any file.
    let m = merge(&files(&[
        (
            "10-url.toml",
            "updates.fleet_lock_url = \"https://lock.example\"",
        ),
        ("20-strategy.toml", "updates.strategy = \"fleet_lock\""),
    ]));
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    // Defined in a file a later file overrides: the error names the file that chose the strategy.
    let m = merge(&files(&[(
        "20-strategy.toml",
        "updates.strategy = \"fleet_lock\"",
    )]));
    assert!(m.errors[0].starts_with(&format!(
        "{}: updates.strategy: ",
        p(ETC, "20-strategy.toml")
    )));
}

#[test]
fn merge_warnings_table() {
    let f = p(ETC, "50-x.toml");
    // (drop-in text, warnings expected, without "FILE: ")
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("[graphs]\nsource = \"/g\"", vec!["graphs: unknown key, ignored"]),
        (
            "[graph]\nsorce = \"/g\"\nsource = \"/g\"",
            vec!["graph.sorce: unknown key, ignored"],
        ),
        ("colour = \"blue\"", vec!["colour: unknown key, ignored"]),
        ("trust.key = 1", vec!["trust.key: unknown key, ignored"]),
        (
            "identity.wariness = 0.5",
            vec!["identity.wariness: unknown key, ignored"],
        ),
        ("host.root = \"/\"", vec!["host.root: unknown key, ignored"]),
        (
            "[updates]\nfleet_lock = { base_url = \"http://x\" }",
            vec!["updates.fleet_lock: unknown key, ignored"],
        ),
        (
            "[updates.periodic]\ntimezone = \"UTC\"",
            vec!["updates.periodic.timezone: unknown key, ignored"],
        ),
        (
            "[[updates.periodic.window]]\ndays = [\"Mon\"]\nstart_time = \"00:00\"\nlength_minutes = 5\nlength = 5",
            vec!["updates.periodic.window[0].length: unknown key, ignored"],
        ),
    ];
    for (text, want) in cases {
        let m = merge(&files(&[("50-x.toml", text)]));
        assert!(m.errors.is_empty(), "{text:?}: {:?}", m.errors);
        let got: Vec<String> = m.warnings.iter().map(|w| w.to_string()).collect();
        let want: Vec<String> = want.iter().map(|w| format!("{f}: {w}")).collect();
        assert_eq!(got, want, "{text:?}");
    }
}

/// A temp dir standing in for `/`, with helpers to lay out drop-ins.
struct Root(TempDir);

impl Root {
    fn new() -> Self {
        let td = TempDir::new(ambient_authority()).unwrap();
        for d in CONFIG_DIRS {
            td.create_dir_all(d).unwrap();
        }
        Root(td)
    }

    fn write(&self, dir: usize, name: &str, text: &str) {
        self.0
            .write(Path::new(CONFIG_DIRS[dir]).join(name), text)
            .unwrap();
    }

    fn symlink(&self, dir: usize, name: &str, target: &str) {
        self.0
            .symlink_contents(target, Path::new(CONFIG_DIRS[dir]).join(name))
            .unwrap();
    }

    fn load(&self) -> anyhow::Result<Loaded> {
        let root = RootDir::from(self.0.try_clone().unwrap());
        load_from(&root, Path::new("/"))
    }
}

#[test]
fn load_from_directories() {
    let root = Root::new();
    root.write(
        USR,
        "10-vendor.toml",
        "[graph]\nsource = \"/usr/share/graph.json\"\n[identity]\ngroup = \"vendor\"\n",
    );
    root.write(USR, "20-masked.toml", "[host]\nbackend = \"bootc\"\n");
    root.write(
        USR,
        "30-replaced.toml",
        "[identity]\nrollout_wariness = 0.9\n",
    );
    root.write(
        RUN,
        "30-replaced.toml",
        "[identity]\nrollout_wariness = 0.1\n",
    );
    root.symlink(ETC, "20-masked.toml", "/dev/null");
    root.write(
        ETC,
        "40-admin.toml",
        "[graph]\nsource = \"/etc/graph.json\"\nbogus = 1\n",
    );
    root.write(ETC, "45-old.conf", "[graph]\nsource = \"/nope\"\n");
    // An absolute symlink resolves inside the root, not on the host.
    root.0.create_dir_all("usr/share/bootc-checkpoint").unwrap();
    root.0
        .write(
            "usr/share/bootc-checkpoint/state.toml",
            "host.state_dir = \"/srv/state\"\n",
        )
        .unwrap();
    root.symlink(
        ETC,
        "50-linked.toml",
        "/usr/share/bootc-checkpoint/state.toml",
    );
    root.symlink(ETC, "60-dangling.toml", "/usr/share/missing.toml");
    root.0
        .create_dir_all(Path::new(CONFIG_DIRS[ETC]).join("70-dir.toml"))
        .unwrap();

    let l = root.load().unwrap();
    let c = &l.config;
    assert_eq!(
        l.files,
        vec![
            PathBuf::from(p(USR, "10-vendor.toml")),
            p(RUN, "30-replaced.toml").into(),
            p(ETC, "40-admin.toml").into(),
            p(ETC, "50-linked.toml").into(),
        ]
    );
    assert_eq!(l.masks, vec![PathBuf::from(p(ETC, "20-masked.toml"))]);
    assert_eq!(
        l.overridden,
        vec![
            Overridden {
                file: p(USR, "20-masked.toml").into(),
                by: p(ETC, "20-masked.toml").into(),
                masked: true
            },
            Overridden {
                file: p(USR, "30-replaced.toml").into(),
                by: p(RUN, "30-replaced.toml").into(),
                masked: false
            },
        ]
    );
    let src = c.graph.source.as_ref().unwrap();
    assert_eq!(src.value, "/etc/graph.json");
    assert_eq!(
        src.file.as_deref(),
        Some(Path::new(&p(ETC, "40-admin.toml")))
    );
    assert_eq!(c.identity.group.value, "vendor");
    assert_eq!(c.identity.rollout_wariness.as_ref().unwrap().value, 0.1);
    assert_eq!(
        c.host.backend.value,
        Backend::Auto,
        "masked file not applied"
    );
    assert_eq!(c.host.state_dir.value, Path::new("/srv/state"));
    assert_eq!(
        c.host.state_dir.file.as_deref(),
        Some(Path::new(&p(ETC, "50-linked.toml")))
    );
    let warnings: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        vec![
            format!(
                "{}: ignored: only *.toml files are read",
                p(ETC, "45-old.conf")
            ),
            format!(
                "{}: ignored: a dangling symlink",
                p(ETC, "60-dangling.toml")
            ),
            format!("{}: ignored: a directory", p(ETC, "70-dir.toml")),
            format!(
                "{}: graph.bogus: unknown key, ignored",
                p(ETC, "40-admin.toml")
            ),
        ]
    );
}

#[test]
fn load_from_missing_directories_is_defaults() {
    let td = TempDir::new(ambient_authority()).unwrap();
    let root = RootDir::from(td.try_clone().unwrap());
    let l = load_from(&root, Path::new("/x")).unwrap();
    assert_eq!(l.config, Config::default());
    assert!(l.files.is_empty() && l.warnings.is_empty());
    assert_eq!(
        l.directories[2],
        Path::new("/x/etc/bootc-checkpoint/config.d")
    );
}

#[test]
fn load_from_reports_every_invalid_value() {
    let root = Root::new();
    root.write(USR, "10-a.toml", "identity.rollout_wariness = 1.5\n");
    root.write(ETC, "50-b.toml", "host.backend = \"zypper\"\n");
    let err = root.load().unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: identity.rollout_wariness: 1.5 is out of range 0.0..=1.0\n\
             {}: host.backend: \"zypper\" is not one of \"auto\", \"ostree\", \"bootc\", \"rpm-ostree\"",
            p(USR, "10-a.toml"),
            p(ETC, "50-b.toml")
        )
    );
}

#[test]
fn values_round_trip() {
    for s in ["00:00", "23:59", "07:05"] {
        assert_eq!(TimeOfDay::parse(s).unwrap().to_string(), s);
    }
    assert_eq!(TimeOfDay::parse("23:30").unwrap().minutes(), 23 * 60 + 30);
    for bad in [
        "", "7:00", "07:5", "0700", "24:00", "12:60", "+1:00", "12:00:00", "1a:00",
    ] {
        assert!(TimeOfDay::parse(bad).is_err(), "{bad:?}");
    }
    for tz in [
        "UTC",
        "localtime",
        "Europe/Berlin",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+5",
        "EST5EDT",
    ] {
        assert_eq!(TimeZone::parse(tz).unwrap().to_string(), tz);
    }
    for bad in [
        "",
        "Europe/",
        "/UTC",
        "Europe//Berlin",
        "Europe/Ber lin",
        "../x",
        "1/2",
    ] {
        assert!(TimeZone::parse(bad).is_err(), "{bad:?}");
    }
    for b in [
        Backend::Auto,
        Backend::Ostree,
        Backend::Bootc,
        Backend::RpmOstree,
    ] {
        assert_eq!(Backend::parse(b.as_str()), Ok(b));
    }
    for s in [Strategy::Immediate, Strategy::Periodic, Strategy::FleetLock] {
        assert_eq!(Strategy::parse(&s.to_string()), Ok(s));
    }
}
