//! A real HTTP/1.1 server on 127.0.0.1 for source tests (std only): routes per path, each
//! request logged with its status and the body bytes sent.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers on a path.
#[derive(Clone)]
pub enum Route {
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

pub struct Server {
    addr: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    log: Arc<Mutex<Log>>,
}

impl Server {
    pub fn start() -> Server {
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

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.into(), route);
    }

    pub fn take_log(&self) -> Vec<(String, u16, usize)> {
        std::mem::take(&mut self.log.lock().unwrap().requests)
    }

    /// Go down: every connection is closed without an answer from now on.
    pub fn stop(&mut self) {
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
