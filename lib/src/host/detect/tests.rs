//! Detection on every recorded `bootc status` and `rpm-ostree status` answer.

use super::*;

/// Recorded answers instead of running tools; panics if a probe that should not run does.
struct Recorded {
    bootc: Option<Probe>,
    rpm_ostree: Option<Probe>,
}

impl Probes for Recorded {
    fn bootc(&self) -> Probe {
        self.bootc.clone().expect("bootc must not be probed here")
    }

    fn rpm_ostree(&self) -> Probe {
        self.rpm_ostree
            .clone()
            .expect("rpm-ostree must not be probed here")
    }
}

fn shared(rel: &str) -> Vec<u8> {
    let path = format!("{}/../../shared/data/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bootc_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../../shared/data/bootc", env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "json"))
        .filter(|p| !p.ends_with("host-v1.schema.json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn auto(probes: &Recorded) -> Choice {
    choose(Backend::Auto, "default", false, probes).unwrap()
}

#[test]
fn every_bootc_fixture_picks_bootc_unless_incompatible() {
    let fixtures = bootc_fixtures();
    assert!(fixtures.len() >= 15, "{} fixtures", fixtures.len());
    let bytes_of = |name: &str| shared(&format!("bootc/{name}"));
    let mut no_image = 0;
    for (name, bytes) in fixtures {
        let probes = Recorded {
            bootc: Some(Probe::Answered(bytes)),
            rpm_ostree: Some(Probe::Answered(shared(
                "fcos/zincati/rpm-ostree-status.json",
            ))),
        };
        let choice = auto(&probes);
        let parsed = bootc_status::parse(&bytes_of(&name), &name).unwrap();
        if parsed.spec_imgref.is_none() || parsed.incompatible {
            assert_eq!(choice.kind, Kind::RpmOstree, "{name}");
            assert!(
                choice.reason.contains("spec.image is null")
                    || choice.reason.contains("incompatible"),
                "{}",
                choice.reason
            );
            no_image += 1;
        } else {
            assert_eq!(choice.kind, Kind::Bootc, "{name}: {}", choice.reason);
        }
    }
    // The pure-ostree fixture (no image, staged deployment incompatible) must be among them.
    assert!(no_image >= 1);
}

#[test]
fn every_rpm_ostree_fixture_picks_rpm_ostree_without_bootc() {
    for name in [
        "rpm-ostree-status.json",
        "rpm-ostree-staged.json",
        "rpm-ostree-status-annotation.json",
    ] {
        let probes = Recorded {
            bootc: Some(Probe::Missing),
            rpm_ostree: Some(Probe::Answered(shared(&format!("fcos/zincati/{name}")))),
        };
        let choice = auto(&probes);
        assert_eq!(choice.kind, Kind::RpmOstree, "{name}");
        assert!(
            choice.reason.contains("bootc is not installed"),
            "{}",
            choice.reason
        );
    }
}

#[test]
fn neither_tool_means_native_and_says_why() {
    let table = [
        (
            Probe::Missing,
            Probe::Missing,
            "bootc is not installed; rpm-ostree is not installed",
        ),
        (
            Probe::Failed("not booted".into()),
            Probe::Failed("daemon down".into()),
            "bootc status failed (not booted); rpm-ostree status failed (daemon down)",
        ),
        (
            Probe::Answered(b"{not json".to_vec()),
            Probe::Answered(b"[]".to_vec()),
            "bootc status was unreadable",
        ),
    ];
    for (bootc, rpm, want) in table {
        let choice = auto(&Recorded {
            bootc: Some(bootc),
            rpm_ostree: Some(rpm),
        });
        assert_eq!(choice.kind, Kind::Ostree);
        assert!(
            choice.reason.contains(want),
            "{:?} !~ {want}",
            choice.reason
        );
    }
}

#[test]
fn configuration_wins_without_probing() {
    let none = Recorded {
        bootc: None,
        rpm_ostree: None,
    };
    for (configured, kind) in [
        (Backend::Ostree, Kind::Ostree),
        (Backend::Bootc, Kind::Bootc),
        (Backend::RpmOstree, Kind::RpmOstree),
    ] {
        let c = choose(
            configured,
            "/etc/bootc-checkpoint/config.d/10-host.toml",
            false,
            &none,
        )
        .unwrap();
        assert_eq!(c.kind, kind);
        assert!(c.reason.contains("10-host.toml"), "{}", c.reason);
    }
}

#[test]
fn offline_sysroots_are_native_only() {
    let none = Recorded {
        bootc: None,
        rpm_ostree: None,
    };
    let c = choose(Backend::Auto, "default", true, &none).unwrap();
    assert_eq!(c.kind, Kind::Ostree);
    let err = choose(Backend::Bootc, "f.toml", true, &none).unwrap_err();
    assert!(format!("{err}").contains("offline sysroot"), "{err}");
}
