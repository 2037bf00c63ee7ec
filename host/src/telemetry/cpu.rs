//! CPU metering per request: the thread CPU time (`CLOCK_THREAD_CPUTIME_ID`) a component
//! instance uses, measured around every poll of its task — a guest's future moves between
//! tokio worker threads from one poll to the next, so only a per-poll reading on the thread
//! doing the work is right — and around each wasi-nn `compute` it calls.
//!
//! Exclusive time, never counted twice: a measured scope that runs inside another on the
//! same thread (a `compute` inside the guest's poll, or any metered future polled inline
//! by another) reports its whole time to the enclosing scope as a child, and the
//! enclosing scope charges only its own time minus its children's. The guest's share is
//! therefore its poll time less its computes, and a chained call, which runs as its own
//! metered task, is charged to its own component only.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

/// Where measured CPU time is charged.
pub trait Account: Send + Sync {
    /// `ns` of thread CPU time spent running the guest (host calls included, computes not).
    fn guest(&self, ns: u64);
    /// One wasi-nn compute on `model`: its thread CPU time, wall time and start.
    fn compute(&self, model: &str, cpu_ns: u64, wall: Duration, started: SystemTime);
}

thread_local! {
    /// The account of the metered future being polled on this thread, if any.
    static CURRENT: RefCell<Option<Arc<dyn Account>>> = const { RefCell::new(None) };
    /// CPU time of scopes nested in the current one, already charged by them.
    static CHILDREN: Cell<u64> = const { Cell::new(0) };
}

/// This thread's CPU time so far, nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Run `f` as a measured scope; returns its result, its whole CPU time and the CPU time
/// of the scopes nested in it.
fn scope<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let outer = CHILDREN.with(|c| c.replace(0));
    let start = thread_cpu_ns();
    let r = f();
    let total = thread_cpu_ns().saturating_sub(start);
    let nested = CHILDREN.with(|c| c.replace(outer + total));
    (r, total, nested)
}

/// A future whose every poll is charged to `account` (its own time, less nested scopes).
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    account: Arc<dyn Account>,
}

impl<F: Future> Metered<F> {
    pub fn new(inner: F, account: Arc<dyn Account>) -> Self {
        Self { inner: Box::pin(inner), account }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let previous = CURRENT.with(|c| c.replace(Some(this.account.clone())));
        let (poll, total, nested) = scope(|| this.inner.as_mut().poll(cx));
        CURRENT.with(|c| *c.borrow_mut() = previous);
        this.account.guest(total.saturating_sub(nested));
        poll
    }
}

/// Run one wasi-nn compute on `model`, charging its CPU and wall time to the metered
/// future polling on this thread (nothing is charged when none is: e.g. a benchmark
/// calling the graph directly).
pub fn compute<R>(model: &str, f: impl FnOnce() -> R) -> R {
    let (started, wall) = (SystemTime::now(), Instant::now());
    let (r, total, _) = scope(f);
    let account = CURRENT.with(|c| c.borrow().clone());
    if let Some(account) = account {
        account.compute(model, total, wall.elapsed(), started);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Sums(Mutex<(u64, u64, Vec<String>)>);

    impl Account for Sums {
        fn guest(&self, ns: u64) {
            self.0.lock().unwrap().0 += ns;
        }
        fn compute(&self, model: &str, cpu_ns: u64, _: Duration, _: SystemTime) {
            let mut s = self.0.lock().unwrap();
            s.1 += cpu_ns;
            s.2.push(model.to_owned());
        }
    }

    fn spin(d: Duration) {
        let start = thread_cpu_ns();
        while thread_cpu_ns() - start < d.as_nanos() as u64 {
            std::hint::black_box(0u64.wrapping_add(1));
        }
    }

    /// A future polled inside another metered future is charged to its own account only;
    /// a compute inside it is charged as compute, not guest; the three add up to the
    /// thread CPU time of the outer poll.
    #[test]
    fn nested_scopes_are_charged_once() {
        let (outer, inner) = (Arc::new(Sums::default()), Arc::new(Sums::default()));
        let inner_account: Arc<dyn Account> = inner.clone();
        let work = async move {
            spin(Duration::from_millis(20));
            Metered::new(
                async {
                    spin(Duration::from_millis(30));
                    compute("m", || spin(Duration::from_millis(40)));
                },
                inner_account,
            )
            .await;
        };
        let start = thread_cpu_ns();
        block_on(Metered::new(work, outer.clone()));
        let elapsed = thread_cpu_ns() - start;
        let (o, i) = (outer.0.lock().unwrap().clone(), inner.0.lock().unwrap().clone());
        let ms = |ns: u64| ns as f64 / 1e6;
        assert!((20.0..26.0).contains(&ms(o.0)), "outer guest {} ms", ms(o.0));
        assert_eq!(o.1, 0, "the outer account computed nothing");
        assert!((30.0..36.0).contains(&ms(i.0)), "inner guest {} ms", ms(i.0));
        assert!((40.0..46.0).contains(&ms(i.1)) && i.2 == ["m"], "inner compute {i:?}");
        let charged = o.0 + i.0 + i.1;
        assert!(charged <= elapsed && elapsed - charged < 2_000_000, "{charged} vs {elapsed}");
    }

    /// The smallest executor: polls on this thread until ready.
    fn block_on<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(f)
    }
}
