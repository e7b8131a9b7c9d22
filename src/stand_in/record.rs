//! What the stand-in received: one [`Record`] per request, kept in memory and appended
//! to a JSON Lines file by a writer thread. The thread serializes, so that a request
//! costs the server no more than handing over a pointer; woken by a record, it waits
//! [`LINGER`] for others (a burst is written at once), writes them and flushes. A killed
//! server loses at most the lines of the last few milliseconds.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request as the stand-in saw it. Never holds the bearer token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// 1-based arrival order.
    pub seq: u64,
    /// Arrival time, RFC 3339 with nanoseconds.
    pub received_at: String,
    /// Arrival time in nanoseconds since the Unix epoch.
    pub received_unix_ns: u64,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub query: Option<String>,
    /// Request headers, lower-case names; `authorization` is left out.
    pub headers: BTreeMap<String, String>,
    /// `ok`, `missing`, `wrong` or `not required`.
    pub auth: String,
    /// The body as JSON when it parses, else as text (null when empty).
    pub body: Value,
    /// The status answered; `None` when the connection was dropped.
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message_id: Option<String>,
    /// `drop`, `fail` or `throttle` when a fault was injected; `abandoned` when the
    /// client hung up while `--latency` held the answer back.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<String>,
    /// The contract violations of a 400.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub details: Vec<Value>,
    /// Of a `POST`: the connection it came on (numbered from 1 as accepted), and when
    /// that was accepted (nanoseconds since the Unix epoch).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub conn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub conn_opened_unix_ns: Option<u64>,
}

impl Record {
    pub fn arrived(
        seq: u64,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Record {
        let now = chrono::Utc::now();
        let headers = headers
            .iter()
            .filter(|(name, _)| *name != header::AUTHORIZATION)
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        };
        Record {
            seq,
            received_at: now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            received_unix_ns: now.timestamp_nanos_opt().unwrap_or(0) as u64,
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().map(String::from),
            headers,
            auth: String::new(),
            body,
            status: None,
            message_id: None,
            fault: None,
            details: Vec::new(),
            conn: None,
            conn_opened_unix_ns: None,
        }
    }
}

/// How long the writer waits, once woken, for more records to write together.
const LINGER: Duration = Duration::from_millis(2);

/// Appends records to a file from a thread of its own.
pub(super) struct Recorder {
    tx: Mutex<Option<mpsc::Sender<Arc<Record>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Recorder {
    pub fn open(path: Option<&Path>) -> std::io::Result<Recorder> {
        let Some(path) = path else {
            return Ok(Recorder {
                tx: Mutex::new(None),
                thread: Mutex::new(None),
            });
        };
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let (tx, rx) = mpsc::channel::<Arc<Record>>();
        let thread = std::thread::Builder::new()
            .name("stand-in-record".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::new(file);
                let mut line = Vec::new();
                let mut write = |out: &mut std::io::BufWriter<_>, rec: &Record| {
                    line.clear();
                    if serde_json::to_writer(&mut line, rec).is_ok() {
                        line.push(b'\n');
                        let _ = out.write_all(&line);
                    }
                };
                while let Ok(rec) = rx.recv() {
                    std::thread::sleep(LINGER);
                    write(&mut out, &rec);
                    // Write everything queued, then flush once caught up.
                    while let Ok(rec) = rx.try_recv() {
                        write(&mut out, &rec);
                    }
                    let _ = out.flush();
                }
                let _ = out.flush();
            })?;
        Ok(Recorder {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn write(&self, rec: &Arc<Record>) {
        if let Some(tx) = self.tx.lock().expect("recorder lock").as_ref() {
            let _ = tx.send(rec.clone());
        }
    }

    /// Stop the writer after it has written and flushed everything queued.
    pub fn close(&self) {
        self.tx.lock().expect("recorder lock").take();
        if let Some(thread) = self.thread.lock().expect("recorder lock").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.close();
    }
}
