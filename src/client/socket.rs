//! A connection's TCP socket, shared by hyper's connection (which reads and writes it
//! through [`Io`]) and the gate of the group whose request waits on it: while a request
//! is held, what hyper writes is kept, serialized (TLS records included), and written
//! by [`Held::release`] at the instant, from the thread that waited for it. Written
//! bytes are counted from each request's start, so that a failed request says for sure
//! whether any of it reached the socket.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::gate::Held;

#[derive(Default)]
struct State {
    /// Written by hyper while the request is held: not yet on the wire.
    held: Option<Vec<u8>>,
    /// Released, but the socket did not take it all at once: written before anything
    /// else, by the connection's task.
    rest: Vec<u8>,
    /// Bytes that reached the socket since the request started.
    wrote: usize,
    /// The socket failed as the request was released, or the request was dropped (its
    /// gate abandoned): every later read and write fails so.
    failed: Option<(io::ErrorKind, &'static str)>,
    /// The connection's task, woken when a release leaves something to it.
    task: Option<Waker>,
}

pub struct Socket {
    tcp: tokio::net::TcpStream,
    state: Mutex<State>,
}

impl Socket {
    pub fn new(tcp: tokio::net::TcpStream) -> Arc<Socket> {
        Arc::new(Socket {
            tcp,
            state: Mutex::new(State::default()),
        })
    }

    /// A request starts: count its bytes from here; hold them when `hold`.
    pub fn start(&self, hold: bool) {
        let mut state = self.lock();
        state.wrote = 0;
        state.held = hold.then(Vec::new);
    }

    /// Whether none of the current request reached the socket; if so, none ever will
    /// (what is held is dropped: the gate's opening writes nothing here). One check,
    /// so that a gate opening meanwhile cannot write what was given up.
    pub fn unwritten(&self) -> bool {
        let mut state = self.lock();
        if state.wrote > 0 {
            return false;
        }
        state.held = None;
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write `rest` as far as the socket takes it now; whether it is all written.
    fn write_rest(&self, state: &mut State) -> io::Result<bool> {
        while !state.rest.is_empty() {
            match self.tcp.try_write(&state.rest) {
                Ok(n) => {
                    state.rest.drain(..n);
                    state.wrote += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// [`Socket::write_rest`], `Pending` (the task woken when the socket can take more)
    /// while some is left.
    fn drain(&self, state: &mut State, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.write_rest(state)? {
            ready!(self.tcp.poll_write_ready(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

/// Failed, in words hyper passes on.
fn failure((kind, what): (io::ErrorKind, &'static str)) -> io::Error {
    io::Error::new(kind, what)
}

impl Held for Socket {
    fn release(&self, go: bool) {
        let mut state = self.lock();
        let Some(held) = state.held.take() else {
            return;
        };
        if !go {
            state.failed = Some((io::ErrorKind::ConnectionAborted, crate::gate::ABANDONED));
        } else if state.failed.is_none() {
            state.rest.extend_from_slice(&held);
            // At once, from this thread; what the socket does not take now, the
            // connection's task writes.
            match self.write_rest(&mut state) {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!("writing a held request: {e}");
                    state.failed =
                        Some((e.kind(), "the connection failed as the request was written"));
                }
            }
        }
        if let Some(task) = state.task.take() {
            task.wake();
        }
    }
}

/// hyper's view of a [`Socket`].
pub struct Io(pub Arc<Socket>);

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let socket = &self.0;
        {
            let mut state = socket.lock();
            if let Some(failed) = state.failed {
                return Poll::Ready(Err(failure(failed)));
            }
            state.task = Some(cx.waker().clone());
            // Released bytes left over go first; reading goes on meanwhile.
            if let Poll::Ready(Err(e)) = socket.drain(&mut state, cx) {
                return Poll::Ready(Err(e));
            }
        }
        loop {
            ready!(socket.tcp.poll_read_ready(cx))?;
            match socket.tcp.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.0;
        let mut state = socket.lock();
        if let Some(failed) = state.failed {
            return Poll::Ready(Err(failure(failed)));
        }
        if let Some(held) = &mut state.held {
            held.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        ready!(socket.drain(&mut state, cx))?;
        loop {
            ready!(socket.tcp.poll_write_ready(cx))?;
            match socket.tcp.try_write(buf) {
                Ok(n) => {
                    state.wrote += n;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = &self.0;
        let mut state = socket.lock();
        if let Some(failed) = state.failed {
            return Poll::Ready(Err(failure(failed)));
        }
        if state.held.is_some() {
            return Poll::Ready(Ok(()));
        }
        socket.drain(&mut state, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = &self.0;
        {
            let mut state = socket.lock();
            // Nothing held is written on the way out.
            state.held = None;
            if state.failed.is_none() {
                ready!(socket.drain(&mut state, cx))?;
            }
        }
        match socket2::SockRef::from(&socket.tcp).shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}
