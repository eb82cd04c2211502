//! The hostile-input corpus (tests/hostile/corpus, made by tests/hostile/generate.py): every
//! document is served by a real HTTP server on 127.0.0.1 and loaded as a node would, and must
//! be refused with its expected error while the node's last good graph (the cache) stays
//! byte-for-byte what it was. The CLI test `cli/tests/hostile_cli.rs` checks that nothing is
//! staged and the journey state is unchanged.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use checkpoint_engine::sources::{self, Context, Limits};
use support::server::{Route, Server};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// (file, require a signature, graph accepted first, expected error fragment)
fn expected() -> Vec<(String, bool, Option<String>, String)> {
    let text = std::fs::read_to_string(corpus().join("corpus/expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "{l}");
            let prior = (f[2] != "-").then(|| f[2].to_string());
            (f[0].to_string(), f[1] == "require", prior, f[3].to_string())
        })
        .collect()
}

fn serve(server: &Server, path: &str, file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    server.route(path, Route::Body(bytes, format!("\"{}\"", file.display())));
    let mut sig = file.as_os_str().to_owned();
    sig.push(".minisig");
    match std::fs::read(&sig) {
        Ok(s) => server.route(&format!("{path}.minisig"), Route::Body(s, "\"s\"".into())),
        Err(_) => server.route(&format!("{path}.minisig"), Route::Status(404)),
    }
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| {
                let p = e.unwrap().path();
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn every_hostile_input_is_refused_with_its_error_and_changes_nothing() {
    let cases = expected();
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let server = Server::start();
    let rt = checkpoint_engine::tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = "2026-12-04T00:00:00Z".parse().unwrap();
    let scratch = std::env::temp_dir().join(format!("bcp-hostile-{}", std::process::id()));
    let mut failures = Vec::new();
    for (i, (file, require, prior, want)) in cases.iter().enumerate() {
        let state = scratch.join(format!("{i}"));
        let ctx = Context {
            state_dir: Some(state.clone()),
            require_signature: *require,
            keys_dirs: vec![corpus().join("keys/trusted.d")],
            registries_conf: None,
            limits: Limits {
                max_bytes: 2 * 1024 * 1024,
                deadline: Duration::from_secs(10),
                max_redirects: 3,
            },
        };
        let path = format!("/{i}/graph");
        let url = server.url(&path);
        if let Some(prior) = prior {
            serve(&server, &path, &corpus().join("corpus").join(prior));
            rt.block_on(sources::load(&ctx, &url, now))
                .unwrap_or_else(|e| panic!("{file}: the prior graph must load: {e:#}"));
        }
        let cache_before = snapshot(&state.join("graph-cache"));
        serve(&server, &path, &corpus().join("corpus").join(file));
        match rt.block_on(sources::load(&ctx, &url, now)) {
            Ok(_) => failures.push(format!("{file}: accepted")),
            Err(e) => {
                let msg = format!("{e:#}");
                if !msg.contains(want.as_str()) {
                    failures.push(format!("{file}: {msg:?} does not contain {want:?}"));
                }
                if msg.len() > 2000 {
                    failures.push(format!("{file}: a {}-byte error message", msg.len()));
                }
            }
        }
        if snapshot(&state.join("graph-cache")) != cache_before {
            failures.push(format!("{file}: the last good graph changed"));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
