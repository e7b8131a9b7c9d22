//! Connections of injector's own for the `POST`s: HTTP/1.1 keep-alive connections (TCP,
//! or TLS through rustls) opened ahead of an instant and kept between sends, each one
//! hyper's connection and nothing more. A send takes one that is open and idle and
//! hands the request to it ahead of the instant; held behind the group's gate, it is
//! written when the gate opens ([`super::socket`]): no pool, connector or timeout
//! layers in between, and nothing to wake at the instant.
//!
//! Opening ahead ([`Lanes::open`]) sends nothing: a connection is open when its TCP (and
//! TLS) handshake is done, so no server can refuse it and close it again, as some do with
//! a warming request. One the server closed meanwhile is noticed (hyper's connection
//! reads its end) and never used; one found closed before any byte of the request
//! reached it (as it was handed over, while it was held, or as it was written) gets the
//! request back unsent, and the request goes on a new connection, not counted as an
//! attempt.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;

use super::socket::{Io, Socket};
use crate::gate::Gate;

/// A connection: hyper's handle for requests, and its socket.
struct Lane {
    send: SendRequest<Full<Bytes>>,
    socket: Arc<Socket>,
}

/// Idle longer than this, a connection is dropped rather than used: a firewall or NAT
/// between may have forgotten it without a word (reqwest keeps idle ones 90 s).
const IDLE_MAX: Duration = Duration::from_secs(60);
/// At most this many idle connections are kept.
const IDLE_KEEP: usize = 64;

/// Where the connections go.
struct Peer {
    host: url::Host<String>,
    port: u16,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
}

/// A send that went wrong: what, and whether the request may have reached the server.
#[derive(Debug)]
pub struct Failure {
    pub error: String,
    pub reached: bool,
}

pub struct Lanes {
    peer: Peer,
    connect_timeout: Duration,
    idle: Mutex<Vec<(Lane, Instant)>>,
}

impl Lanes {
    /// Lanes to the host of `url` (http or https, checked by [`super::Target::new`]).
    pub fn new(
        url: &url::Url,
        tls: Arc<rustls::ClientConfig>,
        connect_timeout: Duration,
    ) -> Result<Lanes, String> {
        let host = url
            .host()
            .ok_or_else(|| format!("`{url}` has no host"))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("`{url}` has no port"))?;
        let tls = match url.scheme() {
            "https" => {
                let name = match &host {
                    url::Host::Domain(d) => rustls::pki_types::ServerName::try_from(d.clone())
                        .map_err(|e| format!("`{d}` is not a server name ({e})"))?,
                    url::Host::Ipv4(ip) => {
                        rustls::pki_types::ServerName::from(std::net::IpAddr::V4(*ip))
                    }
                    url::Host::Ipv6(ip) => {
                        rustls::pki_types::ServerName::from(std::net::IpAddr::V6(*ip))
                    }
                };
                Some((tokio_rustls::TlsConnector::from(tls), name))
            }
            _ => None,
        };
        Ok(Lanes {
            peer: Peer { host, port, tls },
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// An idle connection, ready for a request: one that is ready now if there is one,
    /// else one still finishing its last answer, once ready. Closed and stale ones are
    /// dropped on the way.
    async fn take(&self) -> Option<Lane> {
        let mut lane = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.retain(|(lane, since)| usable(lane, *since));
            let ready = idle.iter().rposition(|(lane, _)| lane.send.is_ready());
            match ready {
                Some(i) => return Some(idle.swap_remove(i).0),
                None => idle.pop()?.0,
            }
        };
        lane.send.ready().await.ok().map(|()| lane)
    }

    /// Back to the idle ones, unless it is closed (the server said `Connection: close`).
    fn put(&self, lane: Lane) {
        if lane.send.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_KEEP {
            idle.push((lane, Instant::now()));
        }
    }

    /// How many idle connections are open; the others are dropped.
    fn open_count(&self) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|(lane, since)| usable(lane, *since));
        idle.len()
    }

    /// Have `n` idle connections open (opening those missing, all at once), sending
    /// nothing; how many are open.
    pub async fn open(&self, n: usize) -> usize {
        let missing = n.min(IDLE_KEEP).saturating_sub(self.open_count());
        let opened = futures_util::future::join_all((0..missing).map(|_| self.connect())).await;
        for lane in opened {
            match lane {
                Ok(lane) => self.put(lane),
                Err(e) => tracing::debug!("opening a connection ahead: {}", e.error),
            }
        }
        self.open_count()
    }

    /// A new connection: TCP, TLS for https, hyper's HTTP/1.1 handshake, its task
    /// spawned on the current runtime.
    async fn connect(&self) -> Result<Lane, Failure> {
        let failed = |error: String| Failure {
            error: format!("cannot connect: {error}"),
            reached: false,
        };
        let open = async {
            let tcp = match &self.peer.host {
                url::Host::Domain(d) => {
                    tokio::net::TcpStream::connect((d.as_str(), self.peer.port)).await
                }
                url::Host::Ipv4(ip) => tokio::net::TcpStream::connect((*ip, self.peer.port)).await,
                url::Host::Ipv6(ip) => tokio::net::TcpStream::connect((*ip, self.peer.port)).await,
            }
            .map_err(|e| e.to_string())?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let socket = Socket::new(tcp);
            let io = Io(socket.clone());
            let send = match &self.peer.tls {
                Some((connector, name)) => {
                    let tls = connector
                        .connect(name.clone(), io)
                        .await
                        .map_err(|e| format!("TLS: {e}"))?;
                    handshake(tls).await
                }
                None => handshake(io).await,
            }?;
            Ok(Lane { send, socket })
        };
        match tokio::time::timeout(self.connect_timeout, open).await {
            Ok(Ok(lane)) => Ok(lane),
            Ok(Err(e)) => Err(failed(e)),
            Err(_) => Err(failed(format!(
                "no connection within {}",
                humantime::format_duration(self.connect_timeout)
            ))),
        }
    }

    /// Send the request `make` builds and read the whole answer (at most `limit` bytes
    /// of body): on an idle connection if one is open, else on a new one; held until
    /// `gate` opens, when given. A connection found closed before any byte of the request
    /// reached it gets it back unsent, and it goes on another.
    pub async fn send(
        &self,
        make: impl Fn() -> hyper::Request<Full<Bytes>>,
        limit: usize,
        gate: Option<&Gate>,
    ) -> Result<(hyper::http::response::Parts, Result<Bytes, Failure>), Failure> {
        loop {
            if gate.is_some_and(Gate::is_abandoned) {
                return Err(Failure {
                    error: crate::gate::ABANDONED.into(),
                    reached: false,
                });
            }
            let (mut lane, fresh) = match self.take().await {
                Some(lane) => (lane, false),
                None => (self.connect().await?, true),
            };
            lane.socket.start(gate.is_some());
            if let Some(gate) = gate {
                gate.hold(lane.socket.clone());
            }
            let answer = match lane.send.try_send_request(make()).await {
                // An answer that came before any of the request was written is not its
                // answer (a server's word on an idle connection, `408` say).
                Ok(_) if lane.socket.unwritten() => {
                    Err("an answer came before the request was written".to_string())
                }
                Ok(response) => Ok(response),
                Err(e) => Err(chain(e.error())),
            };
            let response = match answer {
                Ok(response) => response,
                Err(error) => {
                    let unwritten = lane.socket.unwritten();
                    // Never written: a kept connection that closed meanwhile.
                    if unwritten && !fresh {
                        continue;
                    }
                    return Err(Failure {
                        error: format!("request failed: {error}"),
                        reached: !unwritten,
                    });
                }
            };
            let (parts, body) = response.into_parts();
            let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit))
                .await
                .map(http_body_util::Collected::to_bytes)
                .map_err(|e| Failure {
                    error: format!("broken response: {}", chain(&*e)),
                    reached: true,
                });
            if body.is_ok() {
                self.put(lane);
            }
            return Ok((parts, body));
        }
    }
}

/// Open, and not idle so long that it may be stale.
fn usable(lane: &Lane, since: Instant) -> bool {
    !lane.send.is_closed() && since.elapsed() < IDLE_MAX
}

/// hyper's HTTP/1.1 handshake on `io`, the connection's task spawned; ready for a
/// request once that task runs.
async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut lane, connection) = hyper::client::conn::http1::Builder::new()
        // One flat buffer per request (head and body copied together), one `write`:
        // with `writev` of the two, singles arrived 0.05-0.1 ms later at the median.
        .writev(false)
        .handshake(hyper_util::rt::TokioIo::new(io))
        .await
        .map_err(|e| chain(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("a connection ended: {}", chain(&e));
        }
    });
    lane.ready().await.map_err(|e| chain(&e))?;
    Ok(lane)
}

/// An error and its causes, in words.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    super::with_causes(e.to_string(), e.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate no root vouches for: no connection, and nothing reached the server.
    #[tokio::test]
    async fn an_untrusted_certificate_is_refused_before_anything_is_sent() {
        let tls = crate::tls::self_signed(vec!["localhost".into()]).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = acceptor.accept(tcp).await;
            }
        });
        crate::client::install_crypto();
        let url = url::Url::parse(&format!("https://localhost:{port}/x/messages")).unwrap();
        let lanes = Lanes::new(
            &url,
            crate::client::tls_config().unwrap(),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(lanes.open(2).await, 0);
        let failure = lanes
            .send(|| post(&format!("localhost:{port}")), 1024, None)
            .await
            .unwrap_err();
        assert!(!failure.reached);
        assert!(
            failure.error.starts_with("cannot connect: TLS:"),
            "{}",
            failure.error
        );
    }

    /// An answer longer than the limit is a broken response, and the request may have
    /// arrived (it did); the connection is not kept.
    #[tokio::test]
    async fn an_answer_over_the_limit_is_a_broken_response() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let body = vec![b'x'; 4096];
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = tcp.write_all(head.as_bytes()).await;
            let _ = tcp.write_all(&body).await;
            let _ = tcp.read(&mut buf).await;
        });
        let lanes = local_lanes(port);
        let (parts, body) = lanes
            .send(|| post(&format!("127.0.0.1:{port}")), 1024, None)
            .await
            .unwrap();
        assert_eq!(parts.status, 200);
        let failure = body.unwrap_err();
        assert!(failure.reached);
        assert!(
            failure.error.starts_with("broken response"),
            "{}",
            failure.error
        );
        assert_eq!(
            lanes.open_count(),
            0,
            "a connection with an unread answer is not kept"
        );
    }

    /// A kept connection the server closed, before injector noticed: the request comes
    /// back unsent and goes on a new connection, where it arrives once.
    #[tokio::test]
    async fn a_request_handed_to_a_closed_connection_goes_on_a_new_one() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            // The first connection: closed at once, unasked.
            let (first, _) = listener.accept().await.unwrap();
            drop(first);
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let n = tcp.read(&mut buf).await.unwrap();
            let _ = seen_tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = tcp
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
            let _ = tcp.read(&mut buf).await;
        });
        let lanes = local_lanes(port);
        assert_eq!(lanes.open(1).await, 1);
        // The server's close arrives while this thread does not let the connection's task
        // see it (a current-thread runtime).
        std::thread::sleep(Duration::from_millis(100));
        let (parts, body) = lanes
            .send(|| post(&format!("127.0.0.1:{port}")), 1024, None)
            .await
            .unwrap();
        assert_eq!(parts.status, 200);
        assert_eq!(&body.unwrap()[..], b"ok");
        assert!(seen.recv().await.unwrap().starts_with("POST /x/messages"));
        assert!(seen.try_recv().is_err());
    }

    /// A server on loopback that answers `200 ok` to every request of every connection,
    /// telling `seen` what each request began with and on which connection; the
    /// connection `close_first` names (0-based) is closed unasked when it fires, after
    /// writing `first_says`.
    async fn recording_server(
        first_says: &'static [u8],
        close_first: tokio::sync::oneshot::Receiver<()>,
    ) -> (u16, tokio::sync::mpsc::UnboundedReceiver<(usize, String)>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut close_first = Some(close_first);
            for conn in 0.. {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                if conn == 0 {
                    let close = close_first.take().unwrap();
                    let seen_tx = seen_tx.clone();
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        tokio::select! {
                            n = tcp.read(&mut buf) => {
                                let n = n.unwrap_or(0);
                                if n > 0 {
                                    let _ = seen_tx.send((0, String::from_utf8_lossy(&buf[..n]).into_owned()));
                                    let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                                    let _ = tcp.read(&mut buf).await;
                                }
                            }
                            Ok(()) = close => {
                                let _ = tcp.write_all(first_says).await;
                            }
                        }
                    });
                    continue;
                }
                let seen_tx = seen_tx.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = tcp.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        let _ =
                            seen_tx.send((conn, String::from_utf8_lossy(&buf[..n]).into_owned()));
                        let _ = tcp
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                    }
                });
            }
        });
        (port, seen)
    }

    /// A [`recording_server`] and lanes to it with one connection open: the sender that
    /// closes that connection (after `first_says`), the port, what the server saw.
    async fn one_open_lane(
        first_says: &'static [u8],
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        u16,
        tokio::sync::mpsc::UnboundedReceiver<(usize, String)>,
        Lanes,
    ) {
        let (close, close_first) = tokio::sync::oneshot::channel();
        let (port, seen) = recording_server(first_says, close_first).await;
        let lanes = local_lanes(port);
        assert_eq!(lanes.open(1).await, 1);
        (close, port, seen, lanes)
    }

    /// Drive `send` for `ms` milliseconds; it must still be waiting.
    async fn still_waiting<F: std::future::Future>(send: &mut std::pin::Pin<&mut F>, ms: u64) {
        tokio::select! {
            _ = send.as_mut() => panic!("the send ended before its gate opened"),
            () = tokio::time::sleep(Duration::from_millis(ms)) => {}
        }
    }

    /// Nothing has reached the server; the gate opens, and the request arrives whole,
    /// once, and is answered `200 ok`: on which connection.
    async fn arrives_once_when_opened<F>(
        gate: &Gate,
        send: std::pin::Pin<&mut F>,
        seen: &mut tokio::sync::mpsc::UnboundedReceiver<(usize, String)>,
    ) -> usize
    where
        F: std::future::Future<
                Output = Result<(hyper::http::response::Parts, Result<Bytes, Failure>), Failure>,
            >,
    {
        assert!(
            seen.try_recv().is_err(),
            "nothing reaches the server before the gate opens"
        );
        gate.open(chrono::Utc::now());
        let (parts, body) = send.await.unwrap();
        assert_eq!(parts.status, 200);
        assert_eq!(&body.unwrap()[..], b"ok");
        let (conn, request) = seen.recv().await.unwrap();
        assert!(request.starts_with("POST /x/messages"), "{request}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(seen.try_recv().is_err(), "sent once");
        conn
    }

    /// A request held behind its gate reaches the server when the gate opens, not
    /// before, and its answer is read as usual.
    #[tokio::test]
    async fn a_held_request_is_written_when_its_gate_opens_and_not_before() {
        let (_close, port, mut seen, lanes) = one_open_lane(b"").await;
        let gate = Gate::default();
        let send = lanes.send(|| post(&format!("127.0.0.1:{port}")), 1024, Some(&gate));
        tokio::pin!(send);
        still_waiting(&mut send, 200).await;
        let conn = arrives_once_when_opened(&gate, send, &mut seen).await;
        assert_eq!(conn, 0, "on the connection opened ahead");
    }

    /// A gate abandoned (the run ended before the instant): nothing reaches the server,
    /// and the failure says it was not sent.
    #[tokio::test]
    async fn a_request_behind_an_abandoned_gate_is_never_written() {
        let (_close, port, mut seen, lanes) = one_open_lane(b"").await;
        let gate = Gate::default();
        let send = lanes.send(|| post(&format!("127.0.0.1:{port}")), 1024, Some(&gate));
        tokio::pin!(send);
        still_waiting(&mut send, 100).await;
        gate.abandon();
        let failure = send.await.unwrap_err();
        assert!(!failure.reached);
        assert!(failure.error.contains("not sent"), "{}", failure.error);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(seen.try_recv().is_err(), "nothing reached the server");
    }

    /// The server closes the connection a request is held on, or says something on it
    /// first (`408`, then closes) that is not the request's answer: the request goes on
    /// a new connection, still held, arrives once when the gate opens, and gets its own
    /// answer.
    #[tokio::test]
    async fn a_held_request_whose_connection_closes_or_answers_early_goes_on_a_new_one() {
        for first_says in [
            &b""[..],
            b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ] {
            let (close, port, mut seen, lanes) = one_open_lane(first_says).await;
            let gate = Gate::default();
            let send = lanes.send(|| post(&format!("127.0.0.1:{port}")), 1024, Some(&gate));
            tokio::pin!(send);
            still_waiting(&mut send, 100).await;
            close.send(()).unwrap();
            still_waiting(&mut send, 200).await;
            let conn = arrives_once_when_opened(&gate, send, &mut seen).await;
            assert_eq!(conn, 1, "on a new connection");
        }
    }

    /// Lanes to plain HTTP on loopback `port`.
    fn local_lanes(port: u16) -> Lanes {
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/x/messages")).unwrap();
        crate::client::install_crypto();
        Lanes::new(
            &url,
            crate::client::tls_config().unwrap(),
            Duration::from_secs(5),
        )
        .unwrap()
    }

    /// A `POST /x/messages` to `host`.
    fn post(host: &str) -> hyper::Request<Full<Bytes>> {
        hyper::Request::post("/x/messages")
            .header("host", host)
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    }
}
