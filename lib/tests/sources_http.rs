//! The HTTP graph source against a real HTTP/1.1 server on 127.0.0.1 (written here, std only):
//! conditional polling, the last good graph while the server is down, size caps, deadlines,
//! redirect loops, 404/500, signatures (made by the library and by the stock `minisign` tool),
//! rollback and dropped-checkpoint refusals.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkpoint_engine::sources::{self, Context, Limits};
use checkpoint_engine::trust::Verdict;

/// What the server answers on a path.
#[derive(Clone)]
enum Route {
    /// 200 with this body and ETag; 304 when If-None-Match matches.
    Body(Vec<u8>, String),
    /// Waits this long before answering.
    Slow(Duration),
    /// Announces and streams this many bytes.
    Huge(usize),
    /// 302 to itself.
    Loop,
    Status(u16),
}

#[derive(Default)]
struct Log {
    /// (method path, status, body bytes sent)
    requests: Vec<(String, u16, usize)>,
}

struct Server {
    addr: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Log>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let log: Arc<Mutex<Log>> = Arc::default();
        let l = listener.try_clone().unwrap();
        let (r, lg) = (routes.clone(), log.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { return };
                let (r, lg) = (r.clone(), lg.clone());
                std::thread::spawn(move || serve(conn, &r, &lg));
            }
        });
        Server { addr, routes, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.into(), route);
    }

    fn take_log(&self) -> Vec<(String, u16, usize)> {
        std::mem::take(&mut self.log.lock().unwrap().requests)
    }

    /// Go down: every connection is closed without an answer from now on.
    fn stop(&mut self) {
        self.routes
            .lock()
            .unwrap()
            .insert("*".into(), Route::Status(0));
    }
}

fn serve(mut conn: TcpStream, routes: &Mutex<HashMap<String, Route>>, log: &Mutex<Log>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).is_err() {
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            headers.insert(k.to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let route = {
        let r = routes.lock().unwrap();
        r.get("*").or_else(|| r.get(&path)).cloned()
    };
    let record = |status: u16, sent: usize| {
        log.lock()
            .unwrap()
            .requests
            .push((format!("GET {path}"), status, sent))
    };
    let reply = |conn: &mut TcpStream, status: u16, extra: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(body);
    };
    match route {
        None => {
            record(404, 0);
            reply(&mut conn, 404, "", b"");
        }
        Some(Route::Status(0)) => {} // "stopped": close without answering
        Some(Route::Status(s)) => {
            record(s, 0);
            reply(&mut conn, s, "", b"");
        }
        Some(Route::Body(body, etag)) => {
            if headers.get("if-none-match") == Some(&etag) {
                record(304, 0);
                let head = format!(
                    "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                );
                let _ = conn.write_all(head.as_bytes());
            } else {
                record(200, body.len());
                reply(&mut conn, 200, &format!("ETag: {etag}\r\n"), &body);
            }
        }
        Some(Route::Slow(d)) => {
            record(0, 0);
            std::thread::sleep(d);
            reply(&mut conn, 200, "", b"late");
        }
        Some(Route::Huge(n)) => {
            record(200, n);
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
            let _ = conn.write_all(head.as_bytes());
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len());
                if conn.write_all(&chunk[..k]).is_err() {
                    break;
                }
                left -= k;
            }
        }
        Some(Route::Loop) => {
            record(302, 0);
            reply(&mut conn, 302, &format!("Location: {path}\r\n"), b"");
        }
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

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
