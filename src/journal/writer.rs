//! The journal's file: opened and locked exclusively, appended to by a writer thread
//! that writes whatever is queued and calls `fsync` once for the group (group commit).

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::Entry;

/// `file`, locked exclusively; a lock held elsewhere is [`OpenError::Locked`].
fn lock(file: std::fs::File, path: &Path) -> Result<std::fs::File, OpenError> {
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::Locked(path.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(OpenError::Io(path.to_path_buf(), e)),
    }
}

/// A write failure, kept so every later append reports it too.
type Failure = (std::io::ErrorKind, String);

fn failure(f: &Failure) -> std::io::Error {
    std::io::Error::new(f.0, format!("the journal cannot be written: {}", f.1))
}

/// Lines queued for the writer thread.
#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    /// Lines queued so far, in all.
    queued: u64,
    /// The highest line somebody waits for.
    wanted: u64,
    /// Lines on disk so far.
    synced: u64,
    /// The writer is waiting with nothing queued (and must be woken for new lines).
    idle: bool,
    closed: bool,
    failed: Option<Failure>,
    /// The file ends in a torn line (a crash mid-write): the first line appended starts
    /// with a newline, so that it does not run into it. Nothing is written before that.
    torn: bool,
}

/// What the appenders and the writer thread share.
struct Shared {
    queue: std::sync::Mutex<Queue>,
    wake: std::sync::Condvar,
    /// Lines on disk so far (`fsync`ed when syncing), or the failure that stopped the writer.
    durable: watch::Sender<Result<u64, Failure>>,
}

/// Where lines go: a writer thread that syncs in groups, or the caller's own thread.
enum Sink {
    Thread {
        shared: Arc<Shared>,
        thread: Option<std::thread::JoinHandle<()>>,
        /// The same file, for lines written at once by the caller and never synced
        /// ([`Journal::mark_started`]).
        now: std::sync::Mutex<std::fs::File>,
    },
    /// Written at once by the appender, never synced: tests under tokio's paused clock
    /// (where waiting on another thread lets virtual time run ahead).
    Direct(std::sync::Mutex<(std::fs::File, Option<Failure>)>),
}

/// An open, locked journal.
///
/// Appending is group-committed: appenders add lines to a shared buffer and wake the
/// writer thread only when it is idle; the writer writes everything queued, calls
/// `fsync` once, and publishes how many lines are durable. So a burst of fifty costs
/// one `fsync` and one wake-up, not fifty.
pub struct Journal {
    path: PathBuf,
    sink: Sink,
}

/// Why a journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the journal {0} is in use by another run")]
    Locked(PathBuf),
    #[error("cannot open the journal {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

impl Journal {
    /// Open (creating it if needed) and lock `path`; returns the journal and its text so
    /// far. With `fsync` false (`--no-fsync`), lines are written in the same groups but
    /// never synced.
    pub fn open(path: &Path, fsync: bool) -> Result<(Journal, String), OpenError> {
        match Journal::open_existing(path, fsync)? {
            Some(opened) => Ok(opened),
            None => Ok((Journal::create(path, fsync)?, String::new())),
        }
    }

    /// Open and lock `path` if it exists, with its text; `None` if there is no such
    /// file. Nothing is written to it until the first append.
    pub fn open_existing(path: &Path, fsync: bool) -> Result<Option<(Journal, String)>, OpenError> {
        let io = |e| OpenError::Io(path.to_path_buf(), e);
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut file = lock(file, path)?;
        let mut text = String::new();
        file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        file.read_to_string(&mut text).map_err(io)?;
        let torn = !text.is_empty() && !text.ends_with('\n');
        let journal = Journal::threaded(path, file, fsync, torn).map_err(io)?;
        Ok(Some((journal, text)))
    }

    /// Create `path` (it must not exist) and lock it.
    pub fn create(path: &Path, fsync: bool) -> Result<Journal, OpenError> {
        let io = |e| OpenError::Io(path.to_path_buf(), e);
        let file = std::fs::OpenOptions::new()
            .create_new(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(|e| match e.kind() {
                // Another run made it since this one looked.
                std::io::ErrorKind::AlreadyExists => OpenError::Locked(path.to_path_buf()),
                _ => io(e),
            })?;
        let file = lock(file, path)?;
        Journal::threaded(path, file, fsync, false).map_err(io)
    }

    /// A journal whose writer thread writes to `file` in groups, each synced if `fsync`.
    fn threaded(
        path: &Path,
        file: std::fs::File,
        fsync: bool,
        torn: bool,
    ) -> std::io::Result<Journal> {
        let shared = Arc::new(Shared {
            queue: std::sync::Mutex::new(Queue {
                torn,
                ..Queue::default()
            }),
            wake: std::sync::Condvar::new(),
            durable: watch::Sender::new(Ok(0)),
        });
        let now = std::sync::Mutex::new(file.try_clone()?);
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("journal".into())
                .spawn(move || writer(file, fsync, &shared))?
        };
        Ok(Journal {
            path: path.to_path_buf(),
            sink: Sink::Thread {
                shared,
                thread: Some(thread),
                now,
            },
        })
    }

    /// A journal written in the caller's thread without `fsync` and without a lock
    /// (tests under tokio's paused clock).
    pub fn open_inline(path: &Path) -> std::io::Result<Journal> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Journal::direct(path, file))
    }

    fn direct(path: &Path, file: std::fs::File) -> Journal {
        Journal {
            path: path.to_path_buf(),
            sink: Sink::Direct(std::sync::Mutex::new((file, None))),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry; returns once it is on disk.
    pub async fn append(&self, entry: &Entry) -> std::io::Result<()> {
        let upto = self.record(entry)?;
        self.durable(upto).await
    }

    /// An entry as its line in the file, newline included (for [`Journal::write_now`]).
    pub fn line(entry: &Entry) -> std::io::Result<Vec<u8>> {
        let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        line.push(b'\n');
        Ok(line)
    }

    /// Queue one entry without waiting for the disk; returns its sequence number. The
    /// writer syncs it with the next group; a failure to write it is reported by every
    /// later call, and by [`Journal::close`].
    pub fn record(&self, entry: &Entry) -> std::io::Result<u64> {
        match &self.sink {
            Sink::Direct(file) => {
                let line = Journal::line(entry)?;
                let mut guard = file
                    .lock()
                    .map_err(|_| std::io::Error::other("the journal lock"))?;
                let (file, failed) = &mut *guard;
                if let Some(f) = failed {
                    return Err(failure(f));
                }
                if let Err(e) = file.write_all(&line) {
                    *failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                Ok(0)
            }
            Sink::Thread { shared, .. } => {
                let mut q = shared
                    .queue
                    .lock()
                    .map_err(|_| std::io::Error::other("the journal lock"))?;
                if let Some(f) = &q.failed {
                    return Err(failure(f));
                }
                if q.closed {
                    return Err(std::io::Error::other("the journal is closed"));
                }
                // Serialized straight into the writer's buffer: no line of its own.
                if std::mem::take(&mut q.torn) {
                    q.buf.push(b'\n');
                }
                let before = q.buf.len();
                if let Err(e) = serde_json::to_writer(&mut q.buf, entry) {
                    q.buf.truncate(before);
                    return Err(std::io::Error::other(e));
                }
                q.buf.push(b'\n');
                q.queued += 1;
                let seq = q.queued;
                // Only the first line of a group wakes the writer: it then waits at most
                // LINGER for more, or less if somebody waits for them.
                let wake = std::mem::take(&mut q.idle);
                drop(q);
                if wake {
                    shared.wake.notify_one();
                }
                Ok(seq)
            }
        }
    }

    /// Write `line` (one serialized [`Entry`], newline included) to the file at once,
    /// in the caller's thread, without `fsync`: it
    /// survives this process being killed (the kernel has it), not the machine crashing.
    /// For the `started` line just before requests go out. Lines already queued may
    /// land after it; every one is a whole line (appends of one `write`). An empty line
    /// (an empty group's) writes nothing.
    pub fn write_now(&self, line: &[u8]) -> std::io::Result<()> {
        if line.is_empty() {
            return Ok(());
        }
        let file = match &self.sink {
            Sink::Thread { now, shared, .. } => {
                // A torn last line must be ended by the queued lines first.
                if shared.queue.lock().is_ok_and(|q| q.torn) {
                    return Ok(());
                }
                now
            }
            Sink::Direct(file) => {
                let mut guard = file
                    .lock()
                    .map_err(|_| std::io::Error::other("the journal lock"))?;
                return guard.0.write_all(line);
            }
        };
        file.lock()
            .map_err(|_| std::io::Error::other("the journal lock"))?
            .write_all(line)
    }

    /// Wait until the line numbered `upto` (from [`Journal::record`]) is on disk.
    pub async fn durable(&self, upto: u64) -> std::io::Result<()> {
        let Sink::Thread { shared, .. } = &self.sink else {
            return Ok(());
        };
        let mut rx = shared.durable.subscribe();
        {
            let mut q = shared
                .queue
                .lock()
                .map_err(|_| std::io::Error::other("the journal lock"))?;
            if q.synced < upto && q.wanted < upto {
                q.wanted = upto;
                drop(q);
                shared.wake.notify_one();
            }
        }
        let reached = rx
            .wait_for(|d| d.as_ref().map_or(true, |n| *n >= upto))
            .await
            .map_err(|_| std::io::Error::other("the journal writer stopped"))?;
        match &*reached {
            Ok(_) => Ok(()),
            Err(f) => Err(failure(f)),
        }
    }

    /// Wait until every line queued so far is on disk (a reader of the file then sees
    /// all of them).
    pub async fn settled(&self) -> std::io::Result<()> {
        let queued = match &self.sink {
            Sink::Thread { shared, .. } => {
                shared
                    .queue
                    .lock()
                    .map_err(|_| std::io::Error::other("the journal lock"))?
                    .queued
            }
            Sink::Direct(_) => return Ok(()),
        };
        self.durable(queued).await
    }

    /// Write and sync what is queued, unlock and close; reports a write that failed.
    pub fn close(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Direct(file) => match file.get_mut() {
                Ok((_, Some(f))) => Err(failure(f)),
                Ok(_) => Ok(()),
                Err(_) => Err(std::io::Error::other("the journal lock")),
            },
            Sink::Thread { shared, thread, .. } => {
                let Some(thread) = thread.take() else {
                    return Ok(());
                };
                if let Ok(mut q) = shared.queue.lock() {
                    q.closed = true;
                }
                shared.wake.notify_one();
                let _ = thread.join();
                match &*shared.durable.borrow() {
                    Ok(_) => Ok(()),
                    Err(f) => Err(failure(f)),
                }
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// How long a line nobody waits for (a `sent`, after its request) may stay unwritten:
/// lines arriving meanwhile share its write and `fsync`. At `--speed max` a group (512
/// occurrences) takes about this long to send, so its `sent` lines mostly ride
/// with the next group's `sending` sync rather than take one of their own (20,000
/// sends: about 30 `fsync`s, against 100 with 5 ms and groups of 128).
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(20);

/// The writer thread: take everything queued, write it, `fsync` once (if `fsync`),
/// publish. It writes as soon as somebody waits for a queued line, else [`LINGER`] after
/// the first one.
fn writer(mut file: std::fs::File, fsync: bool, shared: &Shared) {
    let mut buf = Vec::new();
    loop {
        let upto = {
            let Ok(mut q) = shared.queue.lock() else {
                return;
            };
            let mut since: Option<std::time::Instant> = None;
            loop {
                if q.closed || q.wanted > q.synced {
                    break;
                }
                if q.buf.is_empty() {
                    q.idle = true;
                    q = match shared.wake.wait(q) {
                        Ok(q) => q,
                        Err(_) => return,
                    };
                    continue;
                }
                let first = *since.get_or_insert_with(std::time::Instant::now);
                let left = LINGER.saturating_sub(first.elapsed());
                if left.is_zero() {
                    break;
                }
                q = match shared.wake.wait_timeout(q, left) {
                    Ok((q, _)) => q,
                    Err(_) => return,
                };
            }
            q.idle = false;
            if q.buf.is_empty() {
                if q.closed {
                    break;
                }
                // Everything waited for is already on disk.
                q.wanted = q.synced;
                continue;
            }
            std::mem::swap(&mut buf, &mut q.buf);
            q.queued
        };
        let result = file
            .write_all(&buf)
            .and_then(|()| if fsync { file.sync_data() } else { Ok(()) });
        buf.clear();
        match result {
            Ok(()) => {
                if let Ok(mut q) = shared.queue.lock() {
                    q.synced = upto;
                }
                let _ = shared.durable.send_replace(Ok(upto));
            }
            Err(e) => {
                let f = (e.kind(), e.to_string());
                if let Ok(mut q) = shared.queue.lock() {
                    q.failed = Some(f.clone());
                }
                let _ = shared.durable.send_replace(Err(f));
                return;
            }
        }
    }
    let _ = file.sync_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Replay;

    #[tokio::test]
    async fn appends_are_durable_lines_and_the_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (journal, text) = Journal::open(&path, true).unwrap();
        assert!(text.is_empty());
        assert!(matches!(
            Journal::open(&path, true),
            Err(OpenError::Locked(_))
        ));
        let e = Entry::Skipped {
            key: "a".into(),
            reason: "late".into(),
            planned_at: "2026-03-28T09:00:00.000000Z".into(),
            at: "2026-03-28T09:00:01.000000Z".into(),
        };
        let last = (0..10).map(|_| journal.record(&e).unwrap()).last().unwrap();
        assert_eq!(last, 10);
        journal.durable(last).await.unwrap();
        journal.append(&e).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 11);
        journal.close().unwrap();
        let (_again, text) = Journal::open(&path, true).unwrap();
        let replay = Replay::parse(&text);
        assert_eq!(replay.records.len(), 11);
        assert_eq!(
            replay.fold().get("a").unwrap().status,
            crate::fold::Status::Skipped
        );
    }

    #[tokio::test]
    async fn a_failed_write_is_reported_by_every_later_append_and_by_close() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let journal = Journal::threaded(Path::new("/dev/full"), full, true, false).unwrap();
        let e = Entry::Skipped {
            key: "a".into(),
            reason: "late".into(),
            planned_at: "2026-03-28T09:00:00.000000Z".into(),
            at: "2026-03-28T09:00:01.000000Z".into(),
        };
        let err = journal.append(&e).await.unwrap_err();
        assert!(err.to_string().contains("cannot be written"), "{err}");
        let again = journal.record(&e).unwrap_err();
        assert!(again.to_string().contains("cannot be written"), "{again}");
        assert!(journal.close().is_err());

        let direct = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let journal = Journal::direct(Path::new("/dev/full"), direct);
        assert!(journal.record(&e).is_err());
        assert!(
            journal
                .record(&e)
                .unwrap_err()
                .to_string()
                .contains("cannot be written")
        );
        assert!(journal.close().is_err());
    }
}
