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

/// Runs `step` now and then every `every`, at most `runs` times (`None`: until stopped). A step
/// that fails ends the loop with its error: the step decides what is worth retrying (it returns
/// `Ok(Next::Continue)` after a passing failure, logged) and what is not. Returns how many
/// times the step ran.
pub async fn every<F, Fut>(every: Duration, runs: Option<u64>, mut step: F) -> Result<u64>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Next>>,
{
    // One listener for the whole loop: a Ctrl-C during a step lets the step finish (a step is
    // never cut short half-way) and ends the loop instead of the next sleep.
    let stop = Arc::new(Notify::new());
    let stopped = Arc::new(AtomicBool::new(false));
    let listener = tokio::spawn({
        let (stop, stopped) = (Arc::clone(&stop), Arc::clone(&stopped));
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stopped.store(true, Ordering::SeqCst);
                stop.notify_one();
            }
        }
    });
    let mut done = 0u64;
    let ran = loop {
        done += 1;
        let next = match step(done).await {
            Ok(next) => next,
            Err(e) => {
                listener.abort();
                return Err(e);
            }
        };
        if next == Next::Stop || runs.is_some_and(|n| done >= n) || stopped.load(Ordering::SeqCst) {
            break done;
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.notified() => break done,
        }
    };
    listener.abort();
    Ok(ran)
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
