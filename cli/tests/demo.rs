//! `bootc-checkpoint demo` as the README runs it: the real journey (registry, images, sysroot,
//! engine) in a scratch directory, checked through what it prints, and cleaned up afterwards.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const A: &str = "41.20250105.3.0";
const B: &str = "41.20250201.3.0";
const C: &str = "42.20250301.3.0";

/// A fresh, empty directory for the demo's `$TMPDIR`.
fn empty_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "bootc-checkpoint-demo-test-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn demo(tmpdir: &PathBuf) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bootc-checkpoint"));
    c.arg("demo").env("TMPDIR", tmpdir);
    c
}

/// The text after `prefix` on the first line that starts with it.
fn after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{text}"))
}

/// The printed block of step `title` (e.g. `2. upgrade`).
fn block<'a>(text: &'a str, title: &str) -> &'a str {
    text.split("\n\n")
        .find(|b| b.starts_with(title))
        .unwrap_or_else(|| panic!("no step {title:?}:\n{text}"))
}

/// The digest printed for a release in the setup lines.
fn digest(text: &str, letter: &str, version: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(&format!("] release {letter}")))
        .unwrap_or_else(|| panic!("no release {letter} line:\n{text}"));
    assert!(line.contains(&format!("/os:{version}  sha256:")), "{line}");
    line.rsplit(' ').next().unwrap().to_string()
}

#[test]
fn demo_runs_the_real_journey() {
    let tmp = empty_dir("journey");
    let out = demo(&tmp).output().expect("running bootc-checkpoint demo");
    let text = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}\n--- stderr ---\n{err}");

    let addr = text
        .lines()
        .find_map(|l| l.split_once("] registry     docker-registry on "))
        .map(|(_, rest)| rest.split(',').next().unwrap().to_string())
        .unwrap_or_else(|| panic!("no registry line:\n{text}"));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let tracked = format!("ostree-unverified-registry:{addr}/os:stable");
    let (a, b, c) = (
        digest(&text, "A", A),
        digest(&text, "B", B),
        digest(&text, "C", C),
    );
    assert!(a != b && b != c && a != c);
    let origin = format!("   origin   {tracked}");

    // The host starts on A, following the tag.
    let s = block(&text, "1. status");
    assert!(s.contains(&format!("   current  {A}  {a}\n")), "{s}");
    assert!(s.contains(&origin), "{s}");
    assert!(
        s.contains(&format!(
            "   plan     {A} -> {B} (checkpoint) -> {C} (final)"
        )),
        "{s}"
    );

    // upgrade: the checkpoint B is staged pinned by digest, the origin still follows :stable.
    let s = block(&text, "2. upgrade");
    assert!(s.contains("   outcome  staged: "), "{s}");
    assert!(s.contains(&format!("pinned by {b}")), "{s}");
    assert!(s.contains(&format!("   current  {B}  {b}\n")), "{s}");
    assert!(s.contains(&origin), "{s}");
    assert!(
        s.contains(&format!("   journey  [{B}] -> {C}, phase staged")),
        "{s}"
    );

    // resume after B: C, the final hop, still following the tag.
    let s = block(&text, "3. resume");
    assert!(s.contains("   outcome  staged: "), "{s}");
    assert!(s.contains(&format!("   current  {C}  {c}\n")), "{s}");
    assert!(s.contains(&origin), "{s}");
    assert!(
        s.contains(&format!("   journey  [{C}], phase staged")),
        "{s}"
    );

    // resume after C: completed, no journey left.
    let s = block(&text, "4. resume");
    assert!(s.contains("   outcome  completed: "), "{s}");
    assert!(s.contains(&format!("   current  {C}  {c}\n")), "{s}");
    assert!(s.contains(&origin), "{s}");
    assert!(s.contains("   journey  none"), "{s}");

    let s = block(&text, "5. status");
    assert!(s.contains("   next     up to date"), "{s}");

    // The planner summary, then the total time, well under a minute.
    assert!(text.contains("bootc-checkpoint demo --plan-only"), "{text}");
    let total: f64 = after(&text, "Done in ")
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total < 30.0, "the demo took {total}s");

    // Cleaned up: the scratch directory is gone and the registry no longer listens.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        tmp.display()
    );
    let sock: SocketAddr = addr.parse().unwrap();
    assert!(
        TcpStream::connect_timeout(&sock, Duration::from_millis(500)).is_err(),
        "the registry still listens on {addr}"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn demo_without_its_tools_says_what_to_install() {
    let tmp = empty_dir("no-tools");
    // An empty PATH: none of docker-registry, skopeo, ostree can be found.
    let out = demo(&tmp).env("PATH", &tmp).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: the journey demo needs docker-registry, skopeo, ostree"),
        "{err}"
    );
    assert!(
        err.contains("apt-get install docker-registry skopeo ostree"),
        "{err}"
    );
    assert!(err.contains("demo --plan-only"), "{err}");
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    std::fs::remove_dir_all(&tmp).unwrap();
}
