//! The HTTP graph source against a real HTTP/1.1 server on 127.0.0.1 (written here, std only):
//! conditional polling, the last good graph while the server is down, size caps, deadlines,
//! redirect loops, 404/500, signatures (made by the library and by the stock `minisign` tool),
//! rollback and dropped-checkpoint refusals.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::server::{Route, Server};

use checkpoint_engine::sources::{self, Context, Limits};
use checkpoint_engine::trust::Verdict;

fn graph(serial: u64, checkpoint: bool) -> Vec<u8> {
    let mut g = format!(
        "apiVersion: bootc-checkpoint/v1\nkind: UpdateGraph\nmetadata:\n  stream: stable\n  serial: {serial}\nreleases:\n"
    );
    for v in ["1.0", "2.0", "3.0"] {
        g.push_str(&format!(
            "  - version: \"{v}\"\n    digest: sha256:{}\n",
            &v[..1].repeat(64)
        ));
        if checkpoint && v == "2.0" {
            g.push_str("    checkpoint: {reason: https://example.com/2.0}\n");
        }
    }
    g.into_bytes()
}

struct Keys {
    dir: PathBuf,
    secret: PathBuf,
}

/// A key pair made with the stock `minisign` tool, the public key in its own keys dir.
fn minisign_keys(root: &Path, name: &str) -> Keys {
    let dir = root.join(format!("{name}-keys.d"));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = root.join(format!("{name}.key"));
    let out = Command::new("minisign")
        .args(["-G", "-W", "-f", "-p"])
        .arg(dir.join(format!("{name}.pub")))
        .arg("-s")
        .arg(&secret)
        .output()
        .expect("running minisign (apt-get install minisign)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Keys { dir, secret }
}

/// Sign with the stock tool.
fn minisign_sign(keys: &Keys, bytes: &[u8], scratch: &Path) -> Vec<u8> {
    let f = scratch.join("to-sign");
    std::fs::write(&f, bytes).unwrap();
    let out = Command::new("minisign")
        .arg("-S")
        .arg("-s")
        .arg(&keys.secret)
        .arg("-m")
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(scratch.join("to-sign.minisig")).unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bcp-http-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ctx(state: &Path, keys: Option<&Keys>, require: bool) -> Context {
    Context {
        state_dir: Some(state.to_path_buf()),
        require_signature: require,
        keys_dirs: keys.map(|k| vec![k.dir.clone()]).unwrap_or_default(),
        registries_conf: None,
        limits: Limits {
            max_bytes: 1024 * 1024,
            deadline: Duration::from_secs(2),
            max_redirects: 3,
        },
    }
}

fn rt() -> checkpoint_engine::tokio::runtime::Runtime {
    checkpoint_engine::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-12-04T00:00:00Z".parse().unwrap()
}

#[test]
fn polling_costs_one_conditional_request_and_the_cache_covers_outages() {
    let mut server = Server::start();
    let root = tempdir("poll");
    let keys = minisign_keys(&root, "ci");
    let body = graph(1, true);
    let sig = minisign_sign(&keys, &body, &root);
    server.route("/g.yaml", Route::Body(body.clone(), "\"v1\"".into()));
    server.route("/g.yaml.minisig", Route::Body(sig, "\"s1\"".into()));
    let c = ctx(&root.join("state"), Some(&keys), true);
    let rt = rt();

    let loaded = rt
        .block_on(sources::load(&c, &server.url("/g.yaml"), now()))
        .unwrap();
    assert!(
        matches!(loaded.verdict, Verdict::Signed { .. }),
        "{:?}",
        loaded.verdict
    );
    assert_eq!(loaded.identity.serial, Some(1));
    assert_eq!(
        server.take_log(),
        [
            ("GET /g.yaml".to_string(), 200, body.len()),
            (
                "GET /g.yaml.minisig".to_string(),
                200,
                loaded_sig_len(&root)
            )
        ]
    );

    // Unchanged: one conditional request, 304, no body at all.
    let again = rt
        .block_on(sources::load(&c, &server.url("/g.yaml"), now()))
        .unwrap();
    assert_eq!(again.identity, loaded.identity);
    assert!(again.stale.is_none());
    assert_eq!(server.take_log(), [("GET /g.yaml".to_string(), 304, 0)]);

    // Down (500, then hanging up): the last good graph, with the reason.
    server.route("/g.yaml", Route::Status(500));
    let stale = rt
        .block_on(sources::load(&c, &server.url("/g.yaml"), now()))
        .unwrap();
    assert_eq!(stale.identity, loaded.identity);
    assert!(
        stale.stale.as_deref().unwrap().contains("500"),
        "{:?}",
        stale.stale
    );
    server.stop();
    let stale = rt
        .block_on(sources::load(&c, &server.url("/g.yaml"), now()))
        .unwrap();
    assert_eq!(stale.identity, loaded.identity);
    assert!(
        stale.stale.as_deref().unwrap().contains("unavailable"),
        "{:?}",
        stale.stale
    );

    // Without a cache, the outage is an error.
    let fresh = ctx(&root.join("other-state"), Some(&keys), true);
    let e = rt
        .block_on(sources::load(&fresh, &server.url("/g.yaml"), now()))
        .unwrap_err();
    assert!(format!("{e:#}").contains("unavailable"), "{e:#}");
}

fn loaded_sig_len(root: &Path) -> usize {
    std::fs::read(root.join("to-sign.minisig")).unwrap().len()
}

#[test]
fn bad_answers_are_refused_and_the_cache_is_untouched() {
    let server = Server::start();
    let root = tempdir("bad");
    let c = ctx(&root.join("state"), None, false);
    let rt = rt();
    server.route("/good", Route::Body(graph(1, true), "\"g\"".into()));
    let good = rt
        .block_on(sources::load(&c, &server.url("/good"), now()))
        .unwrap();
    assert_eq!(good.verdict, Verdict::Unsigned);
    let cache_dir = root.join("state/graph-cache");
    let snapshot = || {
        let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&cache_dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();
        v.sort();
        v
    };
    let before = snapshot();

    server.route("/huge", Route::Huge(4 * 1024 * 1024));
    server.route("/slow", Route::Slow(Duration::from_secs(5)));
    server.route("/loop", Route::Loop);
    server.route("/missing", Route::Status(404));
    server.route("/forbidden", Route::Status(403));
    server.route(
        "/notgraph",
        Route::Body(b"<html>hello</html>".to_vec(), "\"h\"".into()),
    );
    let cases = [
        ("/huge", "larger than the limit of 1048576 bytes"),
        ("/slow", "no complete answer within 2s"),
        ("/loop", "more than 3 redirects"),
        ("/missing", "404"),
        ("/forbidden", "403"),
        ("/notgraph", "/notgraph"),
    ];
    for (path, want) in cases {
        let e = rt
            .block_on(sources::load(&c, &server.url(path), now()))
            .expect_err(path);
        assert!(format!("{e:#}").contains(want), "{path}: {e:#}");
    }
    // Rollback and a dropped checkpoint on the source that was accepted before.
    server.route("/good", Route::Body(graph(0, true), "\"g0\"".into()));
    let e = rt
        .block_on(sources::load(&c, &server.url("/good"), now()))
        .unwrap_err();
    assert!(format!("{e:#}").contains("serial 0 is below 1"), "{e:#}");
    server.route("/good", Route::Body(graph(2, false), "\"g2\"".into()));
    let e = rt
        .block_on(sources::load(&c, &server.url("/good"), now()))
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("drops checkpoint(s) 2.0"),
        "{e:#}"
    );
    assert_eq!(
        snapshot(),
        before,
        "refused answers must not touch the cache"
    );
}

#[test]
fn signature_policy_and_keys() {
    let server = Server::start();
    let root = tempdir("sig");
    let trusted = minisign_keys(&root, "trusted");
    let other = minisign_keys(&root, "other");
    let body = graph(1, true);
    let rt = rt();
    server.route("/unsigned", Route::Body(body.clone(), "\"u\"".into()));
    server.route("/other", Route::Body(body.clone(), "\"o\"".into()));
    server.route(
        "/other.minisig",
        Route::Body(minisign_sign(&other, &body, &root), "\"os\"".into()),
    );
    server.route("/tampered", Route::Body(graph(2, true), "\"t\"".into()));
    server.route(
        "/tampered.minisig",
        Route::Body(minisign_sign(&trusted, &body, &root), "\"ts\"".into()),
    );
    let cases = [
        ("/unsigned", true, "is not signed"),
        ("/other", false, "not among the trusted keys"),
        ("/tampered", false, "signature is not valid"),
    ];
    for (path, require, want) in cases {
        let c = ctx(&root.join(format!("state{path}")), Some(&trusted), require);
        let e = rt
            .block_on(sources::load(&c, &server.url(path), now()))
            .expect_err(path);
        assert!(format!("{e:#}").contains(want), "{path}: {e:#}");
        assert!(
            !root.join(format!("state{path}/graph-cache")).exists(),
            "{path}"
        );
    }
    // allow-unsigned takes the unsigned graph.
    let c = ctx(&root.join("state-allow"), Some(&trusted), false);
    let ok = rt
        .block_on(sources::load(&c, &server.url("/unsigned"), now()))
        .unwrap();
    assert_eq!(ok.verdict, Verdict::Unsigned);
}
