//! Background work owned by the binary: loops that run a step of the application on a
//! schedule. A loop does the waiting, the counting and the stopping; the step does the work and
//! says whether to go on. Every loop is bounded: by a number of runs when one is given, and it
//! ends on a fatal step or on Ctrl-C (SIGINT) between two runs.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use tokio::sync::Notify;

/// What a step asks of its loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Run again after the period.
    Continue,
    /// Stop now, successfully.
    Stop,
}

/// Ctrl-C (SIGINT) heard while a loop runs: the step in progress finishes (a step is never cut
/// short half-way) and the loop ends instead of its next wait.
pub struct Stop {
    stopped: Arc<AtomicBool>,
    notify: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl Stop {
    /// Starts listening for Ctrl-C.
    pub fn listen() -> Stop {
        let stopped = Arc::new(AtomicBool::new(false));
        let notify = Arc::new(Notify::new());
        let listener = tokio::spawn({
            let (stopped, notify) = (Arc::clone(&stopped), Arc::clone(&notify));
            async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stopped.store(true, Ordering::SeqCst);
                    notify.notify_one();
                }
            }
        });
        Stop {
            stopped,
            notify,
            listener,
        }
    }

    /// Whether Ctrl-C was heard.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Waits `d`, or less when Ctrl-C is heard meanwhile; whether it was.
    pub async fn wait(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => self.stopped(),
            () = self.notify.notified() => true,
        }
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Runs `step` now and then every `every`, at most `runs` times (`None`: until stopped). A step
/// that fails ends the loop with its error: the step decides what is worth retrying (it returns
/// `Ok(Next::Continue)` after a passing failure, logged) and what is not. Returns how many
/// times the step ran.
pub async fn every<F, Fut>(every: Duration, runs: Option<u64>, mut step: F) -> Result<u64>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Next>>,
{
    // one listener for the whole loop
    let stop = Stop::listen();
    let mut done = 0u64;
    loop {
        done += 1;
        let next = step(done).await?;
        if next == Next::Stop || runs.is_some_and(|n| done >= n) || stop.stopped() {
            return Ok(done);
        }
        if stop.wait(every).await {
            return Ok(done);
        }
    }
}

/// Writes this process's heartbeat every few seconds (a failed write is logged and tried again).
pub fn heartbeat(store: &huifang_store::Store, me: &huifang_app::cluster::Process) {
    let (store, me) = (store.clone(), me.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(huifang_app::cluster::HEARTBEAT).await;
            if let Err(e) = me.beat(&store).await {
                tracing::warn!("heartbeat: {e:#}");
            }
        }
    });
}

/// Starts the background work of a server or worker: the outbox's and webhooks' delivery (every
/// second), the follow-up assistant's pass (every minute) and the vehicles' offline sweep with
/// the tracks' retention (every five minutes). Each item is claimed once however many processes
/// run it. A failing pass is logged and tried again; the process ends on Ctrl-C.
pub fn background(store: &huifang_store::Store) {
    let delivering = store.clone();
    tokio::spawn(async move {
        loop {
            let options = huifang_app::notify::DeliveryOptions::default();
            let every = Duration::from_secs(1);
            match crate::notify_cmd::work(&delivering, false, every, options, true).await {
                Ok(_) => std::process::exit(0),
                Err(e) => tracing::warn!("outbox worker: {e:#}"),
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    });
    // the follow-up assistant's pass, every minute from a minute after the start
    let assisting = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            match huifang_app::assistant::run_once(&assisting, chrono::Utc::now()).await {
                Ok(v) if v.started + v.asked_again + v.handed_over > 0 => tracing::info!(
                    started = v.started,
                    asked_again = v.asked_again,
                    handed_over = v.handed_over,
                    "assistant pass"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("assistant pass: {e:#}"),
            }
        }
    });
    // the vehicles' offline sweep and the tracks' retention, every five minutes from five
    // minutes after the start
    let sweeping = store.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(300)).await;
            let pass = async {
                let policy = huifang_app::policy::load(&sweeping).await?;
                huifang_app::vehicles::sweep(&sweeping, &policy, chrono::Utc::now()).await
            };
            match pass.await {
                Ok(v) if !v.offline.is_empty() || v.purged > 0 => tracing::info!(
                    offline = v.offline.len(),
                    purged = v.purged,
                    "vehicle sweep"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("vehicle sweep: {e:#}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn runs_on_the_period_until_its_count_or_a_stop() {
        let start = tokio::time::Instant::now();
        let mut seen = Vec::new();
        let ran = every(Duration::from_secs(60), Some(3), |n| {
            seen.push((n, start.elapsed().as_secs()));
            async { Ok(Next::Continue) }
        })
        .await
        .unwrap();
        assert_eq!(ran, 3);
        assert_eq!(seen, vec![(1, 0), (2, 60), (3, 120)]);

        let ran = every(Duration::from_secs(1), None, |n| async move {
            Ok(if n == 2 { Next::Stop } else { Next::Continue })
        })
        .await
        .unwrap();
        assert_eq!(ran, 2);

        let failed = every(Duration::from_secs(1), None, |n| async move {
            anyhow::ensure!(n < 4, "step {n} failed");
            Ok(Next::Continue)
        })
        .await;
        assert_eq!(failed.unwrap_err().to_string(), "step 4 failed");
    }
}
