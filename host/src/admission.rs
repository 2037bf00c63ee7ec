//! Admission control: how many requests run at once, how many may wait, and for how long.
//!
//! Requests from clients (depth 0) and requests chained from one component to another
//! (depth 1, 2, …) take slots from separate pools of the same size, one pool per depth.
//! A frontend holding a depth-0 slot while it waits on classify therefore never waits on
//! another depth-0 slot: a request at depth d only ever waits for a slot at depth d + 1,
//! and the deepest level calls nothing, so no set of requests can wait on each other in
//! a circle. (With one shared pool, N frontends holding all N slots would each wait for
//! a slot for their classify call, which no one would ever free.)

use crate::metrics::{Metrics, Rejected};
use crate::outbound::chaining::MAX_CHAIN_DEPTH;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Sizes of each pool and of its queue.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionLimits {
    /// Requests running at once, per depth.
    pub max_concurrency: usize,
    /// Requests that may wait for a slot, per depth; more are refused at once.
    pub max_queue: usize,
    /// Longest wait for a slot.
    pub queue_timeout: Duration,
}

/// One pool: its slots and how many wait for one.
struct Pool {
    slots: Semaphore,
    queued: AtomicUsize,
}

/// The pools, one per chain depth.
pub struct Admission {
    limits: AdmissionLimits,
    pools: Vec<Pool>,
}

/// The answer of [`Admission::admit`].
pub enum Admitted<'a> {
    /// Run; the slot is given back when this is dropped.
    Yes(SemaphorePermit<'a>),
    /// Refuse with 503; why.
    Busy(Rejected),
}

/// What a 503 from admission tells the client.
pub fn why(r: Rejected) -> &'static str {
    match r {
        Rejected::queue_full => "the request queue is full",
        Rejected::queue_timeout => "no capacity freed up while queued",
    }
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        let pools = (0..=MAX_CHAIN_DEPTH)
            .map(|_| Pool {
                slots: Semaphore::new(limits.max_concurrency.max(1)),
                queued: AtomicUsize::new(0),
            })
            .collect();
        Self { limits, pools }
    }

    /// Wait for a slot at `depth` (0: from a client), at most the queue timeout.
    pub async fn admit(&self, depth: u32, metrics: &Metrics) -> Admitted<'_> {
        let pool = &self.pools[(depth as usize).min(self.pools.len() - 1)];
        if let Ok(permit) = pool.slots.try_acquire() {
            return Admitted::Yes(permit);
        }
        if pool.queued.fetch_add(1, Ordering::SeqCst) >= self.limits.max_queue {
            pool.queued.fetch_sub(1, Ordering::SeqCst);
            return Admitted::Busy(Rejected::queue_full);
        }
        metrics.queue_delta(1);
        let waited = tokio::time::timeout(self.limits.queue_timeout, pool.slots.acquire()).await;
        pool.queued.fetch_sub(1, Ordering::SeqCst);
        metrics.queue_delta(-1);
        match waited {
            Ok(Ok(permit)) => Admitted::Yes(permit),
            _ => Admitted::Busy(Rejected::queue_timeout),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_pool_does_not_block_the_next_depth() {
        let limits = AdmissionLimits {
            max_concurrency: 1,
            max_queue: 1,
            queue_timeout: Duration::from_millis(50),
        };
        let admission = Admission::new(limits);
        let metrics = Metrics::default();
        let Admitted::Yes(_outer) = admission.admit(0, &metrics).await else { panic!("depth 0") };
        assert!(matches!(admission.admit(0, &metrics).await, Admitted::Busy(_)));
        let Admitted::Yes(_inner) = admission.admit(1, &metrics).await else { panic!("depth 1") };
        assert!(matches!(admission.admit(1, &metrics).await, Admitted::Busy(_)));
    }
}
