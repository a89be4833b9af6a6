//! Which broker context's data a hook call reads: the hook router runs each
//! backend call inside [`serving`], and a backend (the wasm engine's
//! `data.get`) takes the snapshot with [`current`]. A task-local rather than
//! an argument, so backends that do not read data (JS, native) need not
//! carry it, and a call cannot see another context's data.

use std::future::Future;
use std::sync::Arc;

use super::{ContextData, Snapshot};

tokio::task_local! {
    static SERVING: Arc<ContextData>;
}

/// Runs `fut` as a call serving the context that owns `data`.
pub async fn serving<F: Future>(data: Arc<ContextData>, fut: F) -> F::Output {
    SERVING.scope(data, fut).await
}

/// The data of the context the running call serves, `None` outside a call
/// (a policy's `init`, a unit test without data).
pub fn current() -> Option<Arc<Snapshot>> {
    SERVING.try_with(|d| d.snapshot()).ok()
}
