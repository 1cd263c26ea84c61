//! SQLite WAL checkpoints off the committing path.
//!
//! By default SQLite copies the write-ahead log back into the database file inside the commit
//! that makes the log pass 1,000 pages: the transaction that happens to cross the line (typically
//! a daily close, which dirties tens of thousands of pages) pays for writing and syncing all of
//! them. Huifang's connections turn that off; after each commit the store nudges one background
//! thread, which runs a passive checkpoint on its own connection (it never blocks readers or the
//! next writer, and a crash mid-way is safe: the log stays authoritative until it is copied).
//! Nudges that arrive while a checkpoint runs are answered by the next one.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the thread waits after a nudge for more commits before checkpointing.
const SETTLE: Duration = Duration::from_millis(50);

/// The background checkpointer of one SQLite file.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    file: String,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled on a nudge, a stop, and after each checkpoint.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Nudges received, and those a finished checkpoint has answered.
    nudged: u64,
    answered: u64,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.lock().ok()
    }
}

impl Checkpointer {
    /// Starts the thread for `file` (a checkpoint of what an earlier process left in the log is
    /// its first task).
    pub(crate) fn start(file: String) -> Checkpointer {
        let shared = Arc::new(Shared::default());
        let theirs = shared.clone();
        let path = file.clone();
        let thread = std::thread::Builder::new()
            .name("huifang-checkpoint".into())
            .spawn(move || run(&path, &theirs))
            .ok();
        let checkpointer = Checkpointer {
            file,
            shared,
            thread: Mutex::new(thread),
        };
        checkpointer.nudge();
        checkpointer
    }

    /// The database file.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// A transaction has committed.
    pub(crate) fn nudge(&self) {
        if let Some(mut state) = self.shared.lock() {
            state.nudged += 1;
            self.shared.changed.notify_all();
        }
    }

    /// Waits until every commit so far has been checkpointed (as far as readers allowed).
    pub(crate) fn settle(&self) {
        let running = self.thread.lock().is_ok_and(|t| t.is_some());
        let Some(mut state) = self.shared.lock() else {
            return;
        };
        let target = state.nudged;
        while running && state.answered < target && !state.stopping {
            match self.shared.changed.wait(state) {
                Ok(s) => state = s,
                Err(_) => return,
            }
        }
    }

    /// Runs a last checkpoint and stops the thread.
    pub(crate) fn stop(&self) {
        if let Some(mut state) = self.shared.lock() {
            state.stopping = true;
            self.shared.changed.notify_all();
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

fn checkpoint(conn: Option<&rusqlite::Connection>) {
    // PASSIVE copies what no reader still needs and never waits; what is left goes next time.
    if let Some(conn) = conn {
        let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}

fn run(file: &str, shared: &Shared) {
    let conn = open(file).ok();
    loop {
        let Some(mut state) = shared.lock() else {
            return;
        };
        while state.answered == state.nudged && !state.stopping {
            match shared.changed.wait(state) {
                Ok(s) => state = s,
                Err(_) => return,
            }
        }
        if state.stopping {
            drop(state);
            checkpoint(conn.as_ref());
            return;
        }
        drop(state);
        std::thread::sleep(SETTLE); // let the commits of a burst gather
        let target = shared.lock().map_or(0, |s| s.nudged);
        checkpoint(conn.as_ref());
        if let Some(mut state) = shared.lock() {
            state.answered = state.answered.max(target);
            shared.changed.notify_all();
        }
    }
}
