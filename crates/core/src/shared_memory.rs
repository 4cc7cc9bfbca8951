//! Copies, in this process's memory, of rows every instance shares (`store::shared_rows`), and
//! the rule that keeps them honest: a copy is served only while this process listens for the
//! `NOTIFY` each change to those rows sends, and has heard none since the copy was read. A
//! notification, a listener lost, or one not connected yet drops every copy at once, and the
//! next read goes to the database. A change made by another instance is seen here as soon as
//! its notification arrives, which PostgreSQL sends at its commit.
//!
//! What a copy may decide, and why a stale one cannot move money, is said where each is used
//! (`recharge/catalogue_cache.rs`, `recharge/payment_methods.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;

use carat_store::shared_rows;

/// Whether copies read now may be kept, and which ones are still good.
#[derive(Debug, Default)]
pub struct Freshness {
    /// Bumped by every notification, and whenever the listener is lost or made: a copy is
    /// good while the epoch it was read in is the current one.
    epoch: AtomicU64,
    /// The listener is connected and listening.
    live: AtomicBool,
}

impl Freshness {
    /// The epoch to stamp a read with, taken before the read; `None` when nothing may be kept.
    fn stamp(&self) -> Option<u64> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.live.load(Ordering::SeqCst).then_some(epoch)
    }

    fn is_current(&self, stamp: u64) -> bool {
        self.live.load(Ordering::SeqCst) && self.epoch.load(Ordering::SeqCst) == stamp
    }

    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    fn set_live(&self, live: bool) {
        // Lost: nothing read from now on is kept. Made: a change may have been missed while
        // nobody listened, so what was kept before is dropped.
        if live {
            self.changed();
            self.live.store(true, Ordering::SeqCst);
        } else {
            self.live.store(false, Ordering::SeqCst);
            self.changed();
        }
    }

    /// Listens on the shared rows' channel for as long as the runtime runs, making the
    /// listener again when it is lost.
    pub fn listen(self: &Arc<Self>, pool: PgPool) {
        let freshness = self.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(mut listener) = shared_rows::listen(&pool).await {
                    freshness.set_live(true);
                    // `try_recv` answers `None` when the connection is lost.
                    while let Ok(Some(_)) = listener.try_recv().await {
                        freshness.changed();
                    }
                    freshness.set_live(false);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// A copy of shared values (`T::default()` knows none of them yet), good while its
/// [`Freshness`] says so; what it knows is filled in as it is read or written here.
#[derive(Debug)]
pub struct Kept<T> {
    freshness: Arc<Freshness>,
    slot: Mutex<Option<(u64, T)>>,
}

impl<T: Default> Kept<T> {
    pub fn new(freshness: Arc<Freshness>) -> Self {
        Self {
            freshness,
            slot: Mutex::new(None),
        }
    }

    /// What `look` finds in the copy, if the copy is still good.
    pub fn read<R>(&self, look: impl FnOnce(&T) -> R) -> Option<R> {
        let slot = self.slot.lock().expect("a copy's lock is never poisoned");
        match &*slot {
            Some((stamp, value)) if self.freshness.is_current(*stamp) => Some(look(value)),
            _ => None,
        }
    }

    /// The stamp to take before reading or writing the database: what is learnt by it may be
    /// kept (by [`Self::learnt`]) only if no change is announced meanwhile. `None`: nothing
    /// may be kept now.
    pub fn stamp(&self) -> Option<u64> {
        self.freshness.stamp()
    }

    /// Keeps what was learnt from the database (read there, or written there by this
    /// process) since `stamp`, unless a change was announced meanwhile. A copy older than
    /// `stamp` is dropped first.
    pub fn learnt(&self, stamp: Option<u64>, learn: impl FnOnce(&mut T)) {
        let Some(stamp) = stamp.filter(|s| self.freshness.is_current(*s)) else {
            return;
        };
        let mut slot = self.slot.lock().expect("a copy's lock is never poisoned");
        let mut value = match slot.take() {
            Some((kept, value)) if kept == stamp => value,
            _ => T::default(),
        };
        learn(&mut value);
        *slot = Some((stamp, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Arc<Freshness> {
        let freshness = Arc::new(Freshness::default());
        freshness.set_live(true);
        freshness
    }

    fn learn(kept: &Kept<Option<i32>>, value: i32) {
        let stamp = kept.stamp();
        kept.learnt(stamp, |v| *v = Some(value));
    }

    #[test]
    fn a_copy_is_served_until_a_change_is_announced() {
        let freshness = live();
        let kept = Kept::new(freshness.clone());
        assert_eq!(kept.read(|v| *v), None);
        learn(&kept, 1);
        assert_eq!(kept.read(|v| *v), Some(Some(1)));
        freshness.changed();
        assert_eq!(kept.read(|v| *v), None);
        learn(&kept, 2);
        assert_eq!(kept.read(|v| *v), Some(Some(2)));
    }

    #[test]
    fn nothing_is_kept_while_nobody_listens() {
        let freshness = Arc::new(Freshness::default());
        let kept = Kept::new(freshness.clone());
        learn(&kept, 1);
        assert_eq!(kept.read(|v| *v), None);
        freshness.set_live(true);
        learn(&kept, 2);
        assert_eq!(kept.read(|v| *v), Some(Some(2)));
        freshness.set_live(false);
        assert_eq!(
            kept.read(|v| *v),
            None,
            "a lost listener drops what was kept"
        );
        freshness.set_live(true);
        assert_eq!(kept.read(|v| *v), None, "and a new one starts from nothing");
    }

    #[test]
    fn what_was_learnt_across_an_announced_change_is_not_kept() {
        let freshness = live();
        let kept: Kept<Option<i32>> = Kept::new(freshness.clone());
        let stamp = kept.stamp();
        freshness.changed();
        kept.learnt(stamp, |v| *v = Some(1));
        assert_eq!(kept.read(|v| *v), None);
    }

    #[test]
    fn learning_adds_to_a_good_copy_and_replaces_an_old_one() {
        let freshness = live();
        let kept: Kept<Vec<i32>> = Kept::new(freshness.clone());
        let stamp = kept.stamp();
        kept.learnt(stamp, |v| v.push(1));
        kept.learnt(stamp, |v| v.push(2));
        assert_eq!(kept.read(Clone::clone), Some(vec![1, 2]));
        freshness.changed();
        let stamp = kept.stamp();
        kept.learnt(stamp, |v| v.push(3));
        assert_eq!(kept.read(Clone::clone), Some(vec![3]));
    }
}
