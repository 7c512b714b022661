//! What stops a run from outside: SIGINT (Ctrl-C) and SIGTERM, as a future the pipeline
//! selects on.

use std::future::Future;

use crate::summary::Stop;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when it is first polled, so a signal during start-up is not lost. Call it inside
/// the runtime.
pub fn shutdown_signal() -> impl Future<Output = Stop> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut i), Ok(mut t)) => tokio::select! {
                    _ = i.recv() => Stop::Interrupted,
                    _ = t.recv() => Stop::Terminated,
                },
                (Ok(mut i), Err(_)) => {
                    i.recv().await;
                    Stop::Interrupted
                }
                (Err(_), Ok(mut t)) => {
                    t.recv().await;
                    Stop::Terminated
                }
                (Err(_), Err(_)) => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            Stop::Interrupted
        }
    }
}
