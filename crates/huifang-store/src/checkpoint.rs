//! SQLite WAL checkpoints off the committing path.
//!
//! By default SQLite copies the write-ahead log back into the database file inside the commit
//! that makes the log pass 1,000 pages: the transaction that happens to cross the line (typically
//! a daily close, which dirties tens of thousands of pages) pays for writing and syncing all of
//! them. Huifang's connections turn that off; after each commit the store nudges one background
//! thread, which runs a passive checkpoint on its own connection (it never blocks readers or the
//! next writer, and a crash mid-way is safe: the log stays authoritative until it is copied).
//! Nudges that arrive while a checkpoint runs are merged into the next one.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the thread waits after a nudge for more commits before checkpointing.
const SETTLE: Duration = Duration::from_millis(50);

/// The background checkpointer of one SQLite file.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    nudges: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    progress: Arc<Progress>,
}

/// Nudges sent and nudges answered by a finished checkpoint.
#[derive(Debug, Default)]
struct Progress {
    counts: Mutex<(u64, u64)>,
    answered: Condvar,
}

impl Checkpointer {
    /// Starts the thread for `file` (a checkpoint of what an earlier process left in the log is
    /// its first task).
    pub(crate) fn start(file: String) -> Checkpointer {
        let (send, receive) = mpsc::channel();
        let progress = Arc::new(Progress::default());
        let theirs = progress.clone();
        let thread = std::thread::Builder::new()
            .name("huifang-checkpoint".into())
            .spawn(move || run(&file, &receive, &theirs))
            .ok();
        let checkpointer = Checkpointer {
            nudges: Mutex::new(Some(send)),
            thread: Mutex::new(thread),
            progress,
        };
        checkpointer.nudge();
        checkpointer
    }

    /// A transaction has committed.
    pub(crate) fn nudge(&self) {
        if let Ok(guard) = self.nudges.lock()
            && let Some(send) = guard.as_ref()
            && let Ok(mut counts) = self.progress.counts.lock()
            && send.send(()).is_ok()
        {
            counts.0 += 1;
        }
    }

    /// Waits until every commit so far has been checkpointed (as far as readers allowed).
    pub(crate) fn settle(&self) {
        let Ok(mut counts) = self.progress.counts.lock() else {
            return;
        };
        let target = counts.0;
        while counts.1 < target && self.thread.lock().is_ok_and(|t| t.is_some()) {
            match self
                .progress
                .answered
                .wait_timeout(counts, Duration::from_secs(1))
            {
                Ok((c, _)) => counts = c,
                Err(_) => return,
            }
        }
    }

    /// Runs a last checkpoint and stops the thread.
    pub(crate) fn stop(&self) {
        if let Ok(mut guard) = self.nudges.lock() {
            guard.take(); // the thread sees the channel close
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn open(file: &str) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn)
}

fn checkpoint(conn: &rusqlite::Connection) {
    // PASSIVE copies what no reader still needs and never waits; what is left goes next time.
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

fn run(file: &str, nudges: &Receiver<()>, progress: &Progress) {
    let conn = open(file).ok();
    while nudges.recv().is_ok() {
        std::thread::sleep(SETTLE);
        let mut answered = 1;
        while nudges.try_recv().is_ok() {
            answered += 1;
        }
        if let Some(conn) = &conn {
            checkpoint(conn);
        }
        if let Ok(mut counts) = progress.counts.lock() {
            counts.1 += answered;
        }
        progress.answered.notify_all();
    }
    if let Some(conn) = &conn {
        checkpoint(conn);
    }
}
