//! A FleetLock server for tests, written from the published protocol
//! (<https://coreos.github.io/zincati/development/fleetlock/protocol/>): HTTP/1.1 on
//! `127.0.0.1:<random port>`, `POST /v1/pre-reboot` and `POST /v1/steady-state`, a semaphore of
//! `slots` reboot slots per group keyed by `node_uuid`. It records every request in order and
//! mirrors the current holders into a file (one `GROUP NODE_UUID` line each), so a reboot
//! command can snapshot who held the lock at the moment of the reboot.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `pre-reboot`, `steady-state`, or the path of anything else.
    pub op: String,
    pub node_uuid: String,
    pub group: String,
    /// Whether `fleet-lock-protocol: true` was sent.
    pub protocol_header: bool,
    pub status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    holders: BTreeMap<String, Vec<String>>,
    log: Vec<Seen>,
}

#[derive(Debug)]
pub struct FleetLockServer {
    port: u16,
    slots: usize,
    inner: Arc<Mutex<Inner>>,
    holders_file: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FleetLockServer {
    /// Start with `slots` slots per group; holders are mirrored into `holders_file`.
    pub fn start(slots: usize, holders_file: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the FleetLock server");
        let port = listener.local_addr().unwrap().port();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let server = Server {
            slots,
            inner: inner.clone(),
            holders_file: holders_file.clone(),
        };
        server.write_holders(&inner.lock().unwrap());
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    server.serve(c);
                }
            }
        });
        Self {
            port,
            slots,
            inner,
            holders_file,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Another node takes a slot.
    pub fn hold(&self, group: &str, node: &str) {
        let mut i = self.inner.lock().unwrap();
        i.holders.entry(group.into()).or_default().push(node.into());
        self.server().write_holders(&i);
    }

    /// Another node gives its slot back.
    pub fn release(&self, group: &str, node: &str) {
        let mut i = self.inner.lock().unwrap();
        i.holders
            .entry(group.into())
            .or_default()
            .retain(|n| n != node);
        self.server().write_holders(&i);
    }

    pub fn log(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn holders(&self, group: &str) -> Vec<String> {
        let i = self.inner.lock().unwrap();
        i.holders.get(group).cloned().unwrap_or_default()
    }

    fn server(&self) -> Server {
        Server {
            slots: self.slots,
            inner: self.inner.clone(),
            holders_file: self.holders_file.clone(),
        }
    }
}

impl Drop for FleetLockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Server {
    slots: usize,
    inner: Arc<Mutex<Inner>>,
    holders_file: PathBuf,
}

impl Server {
    fn write_holders(&self, i: &Inner) {
        let mut text = String::new();
        for (g, nodes) in &i.holders {
            for n in nodes {
                text.push_str(&format!("{g} {n}\n"));
            }
        }
        std::fs::write(&self.holders_file, text).expect("writing the holders file");
    }

    fn serve(&self, stream: TcpStream) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return; // the wake-up connection from Drop, or a probe
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, reply, seen) = self.handle(method, path, header("fleet-lock-protocol"), &body);
        self.inner.lock().unwrap().log.push(seen);
        let reply = reply.to_string();
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "Conflict",
        };
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
        let _ = stream.flush();
    }

    fn handle(
        &self,
        method: &str,
        path: &str,
        protocol: Option<String>,
        body: &[u8],
    ) -> (u16, Value, Seen) {
        let params: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let p = &params["client_params"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let (node, group) = (text(&p["node_uuid"]), text(&p["group"]));
        let protocol_header = protocol.as_deref() == Some("true");
        let op = path.trim_start_matches("/v1/").to_string();
        let error = |kind: &str, value: String| json!({"kind": kind, "value": value});
        let (status, reply) =
            if method != "POST" || !["pre-reboot", "steady-state"].contains(&op.as_str()) {
                (404, error("not_found", format!("{method} {path}")))
            } else if !protocol_header {
                (
                    400,
                    error("missing_header", "fleet-lock-protocol: true".into()),
                )
            } else if node.is_empty() || group.is_empty() {
                (
                    400,
                    error(
                        "bad_request",
                        "client_params.node_uuid and .group are required".into(),
                    ),
                )
            } else {
                let mut i = self.inner.lock().unwrap();
                let held = i.holders.entry(group.clone()).or_default();
                let answer = if op == "steady-state" {
                    held.retain(|n| *n != node);
                    (200, json!({}))
                } else if held.contains(&node) {
                    (200, json!({}))
                } else if held.len() < self.slots {
                    held.push(node.clone());
                    (200, json!({}))
                } else {
                    let value = format!("all {} slot(s) of group {group} are taken", self.slots);
                    (409, error("failed_lock", value))
                };
                self.write_holders(&i);
                answer
            };
        let seen = Seen {
            op,
            node_uuid: node,
            group,
            protocol_header,
            status,
        };
        (status, reply, seen)
    }
}
