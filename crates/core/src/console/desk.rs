//! What the console's pages show: the overview (today's sales, the queues' sizes, the last 24
//! hours), search, the queues themselves, and the database's health. Read-only: every change
//! goes through `RechargeService`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::clock::{hour_buckets_from, sao_paulo_midnight};
use super::search::names_for;
use super::{ConsoleError, ListKey};
use carat_domain::card_status::CardStatus;
use carat_domain::{RechargeStatus, RechargeType};
use carat_store::callbacks::{CallbackRow, Outcome};
use carat_store::cards::CardRow;
use carat_store::desk::{self as store, RechargeFilter};
use carat_store::{self as stored, Recharge};

/// How long a card may stay `pending` or `unknown` before it is queued for a look: a storage
/// call and its HASH notification take seconds, so minutes is well past "still on its way".
const CARD_UNSETTLED_AFTER: Duration = Duration::from_secs(5 * 60);

/// How long the health check waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// The console's reads. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Desk {
    pool: PgPool,
    /// `PENDING_CONFIRMATION_TIMEOUT_SECS`: past it, a pending confirmation is overdue.
    pending_timeout: Duration,
}

/// The overview page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// Recharges created since midnight in São Paulo, by kind and status (only those with any).
    pub today: Vec<(RechargeType, RechargeStatus, i64)>,
    pub queues: QueueCounts,
    /// The last 24 hours, oldest first, the current one last.
    pub hourly: Vec<HourBucket>,
}

/// How many items each queue holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub in_doubt: i64,
    pub overdue_confirmation: i64,
    pub awaiting_choice: i64,
    /// Callbacks refused or unmatched.
    pub callbacks: i64,
    pub cards_unknown: i64,
}

/// Recharges created in one hour, by where they stand now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HourBucket {
    pub start: DateTime<Utc>,
    pub confirmed: i64,
    pub undone: i64,
    /// Failed or expired: nothing was sold.
    pub failed: i64,
    /// Not ended yet.
    pub open: i64,
}

impl HourBucket {
    fn empty(start: DateTime<Utc>) -> Self {
        Self {
            start,
            confirmed: 0,
            undone: 0,
            failed: 0,
            open: 0,
        }
    }

    /// Counts `count` recharges now in `status`.
    fn add(&mut self, status: RechargeStatus, count: i64) {
        use RechargeStatus::*;
        let column = match status {
            Confirmed => &mut self.confirmed,
            Undone => &mut self.undone,
            Failed | Expired => &mut self.failed,
            Created | Started | Effectuating | AwaitingChoice | PendingConfirmation
            | Confirming | Undoing => &mut self.open,
        };
        *column += count;
    }
}

/// A search: every part given must hold. Empty lists mean any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Search {
    /// An order id, NIT, recharge id, merchant USN, Carat's USN or phone number (with or
    /// without its DDD; only digits are compared): the recharge matches if any one does.
    pub text: Option<String>,
    pub statuses: Vec<RechargeStatus>,
    pub kinds: Vec<RechargeType>,
    /// Only recharges in doubt (a money-moving call out or its outcome unknown).
    pub in_doubt: bool,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub created_to: Option<DateTime<Utc>>,
}

/// A queue of recharges someone should look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Queue {
    /// A money-moving call out, or its outcome unknown.
    InDoubt,
    /// Pending confirmation past `PENDING_CONFIRMATION_TIMEOUT_SECS` since its effectuation.
    OverdueConfirmation,
    /// Waiting for the storefront to choose a TV package.
    AwaitingChoice,
}

/// Whether the database answers, and how fast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbState {
    pub reachable: bool,
    /// The round trip's time, when it answered.
    pub latency_ms: Option<u64>,
}

/// The statuses in doubt: a money-moving call is out or its outcome unknown.
fn in_doubt_statuses() -> Vec<RechargeStatus> {
    RechargeStatus::ALL
        .into_iter()
        .filter(|s| s.is_in_doubt())
        .collect()
}

/// Lists as the filter takes them: an empty one means any.
fn any_if_empty<T: Clone>(values: &[T]) -> Option<Vec<T>> {
    (!values.is_empty()).then(|| values.to_vec())
}

impl Desk {
    pub fn new(pool: PgPool, pending_timeout: Duration) -> Self {
        Self {
            pool,
            pending_timeout,
        }
    }

    /// Which recharges `queue` holds at `now`.
    fn queue_filter(&self, queue: Queue, now: DateTime<Utc>) -> RechargeFilter {
        match queue {
            Queue::InDoubt => RechargeFilter {
                status_or_outcome_unknown: Some(in_doubt_statuses()),
                ..RechargeFilter::default()
            },
            Queue::OverdueConfirmation => RechargeFilter {
                statuses: Some(vec![RechargeStatus::PendingConfirmation]),
                effectuated_by: Some(now - self.pending_timeout),
                ..RechargeFilter::default()
            },
            Queue::AwaitingChoice => RechargeFilter {
                statuses: Some(vec![RechargeStatus::AwaitingChoice]),
                ..RechargeFilter::default()
            },
        }
    }

    /// The overview at `now`.
    pub async fn overview(&self, now: DateTime<Utc>) -> Result<Overview, ConsoleError> {
        let hours = hour_buckets_from(now, 24);
        let (today, queues, by_hour) = tokio::try_join!(
            store::counts_by_kind_and_status(&self.pool, sao_paulo_midnight(now)),
            self.queue_counts(now),
            store::counts_by_bucket_and_status(&self.pool, hours[0], Duration::from_secs(3600)),
        )?;
        let mut hourly: Vec<HourBucket> = hours.into_iter().map(HourBucket::empty).collect();
        for (start, status, count) in by_hour {
            if let Some(bucket) = hourly.iter_mut().find(|b| b.start == start) {
                bucket.add(status, count);
            }
        }
        Ok(Overview {
            today,
            queues,
            hourly,
        })
    }

    async fn queue_counts(&self, now: DateTime<Utc>) -> Result<QueueCounts, stored::StoreError> {
        let pool = &self.pool;
        let [in_doubt, overdue, awaiting] = [
            Queue::InDoubt,
            Queue::OverdueConfirmation,
            Queue::AwaitingChoice,
        ]
        .map(|q| self.queue_filter(q, now));
        let refused = [Outcome::Refused, Outcome::Unmatched];
        let cards = unsettled_cards();
        let (in_doubt, overdue_confirmation, awaiting_choice, callbacks, cards_unknown) = tokio::try_join!(
            store::count_recharges(pool, &in_doubt),
            store::count_recharges(pool, &overdue),
            store::count_recharges(pool, &awaiting),
            store::count_callbacks(pool, &refused),
            store::count_cards(pool, &cards, now - CARD_UNSETTLED_AFTER),
        )?;
        Ok(QueueCounts {
            in_doubt,
            overdue_confirmation,
            awaiting_choice,
            callbacks,
            cards_unknown,
        })
    }

    /// Recharges matching `q`, newest first, a page after `after`.
    pub async fn search(
        &self,
        q: &Search,
        after: Option<ListKey>,
        limit: i64,
    ) -> Result<Vec<Recharge>, ConsoleError> {
        let filter = RechargeFilter {
            statuses: any_if_empty(&q.statuses),
            kinds: any_if_empty(&q.kinds),
            status_or_outcome_unknown: q.in_doubt.then(in_doubt_statuses),
            effectuated_by: None,
            created_from: q.created_from,
            created_to: q.created_to,
            names: q.text.as_deref().and_then(names_for),
        };
        Ok(store::recharges(&self.pool, &filter, after, limit).await?)
    }

    /// The recharges `q` holds now, newest first, a page after `after`.
    pub async fn queue(
        &self,
        q: Queue,
        after: Option<ListKey>,
        limit: i64,
    ) -> Result<Vec<Recharge>, ConsoleError> {
        let filter = self.queue_filter(q, Utc::now());
        Ok(store::recharges(&self.pool, &filter, after, limit).await?)
    }

    /// Callbacks refused or unmatched, newest first, below `before` (an inbox id); their
    /// bodies as kept (a secret in one was blanked before it was kept).
    pub async fn refused_callbacks(
        &self,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CallbackRow>, ConsoleError> {
        let outcomes = [Outcome::Refused, Outcome::Unmatched];
        Ok(carat_store::callbacks::list_outcomes(&self.pool, &outcomes, before, limit).await?)
    }

    /// Cards whose storage outcome is still not known minutes after the request (`pending` or
    /// `unknown`), newest first, a page after `after`. A row carries the card's token: a door
    /// never shows it.
    pub async fn unknown_cards(
        &self,
        after: Option<ListKey>,
        limit: i64,
    ) -> Result<Vec<CardRow>, ConsoleError> {
        let since = Utc::now() - CARD_UNSETTLED_AFTER;
        let after = after.map(|k| (k.created_at, k.id));
        let statuses = unsettled_cards();
        Ok(carat_store::cards::list_unchanged(&self.pool, &statuses, since, after, limit).await?)
    }

    /// Whether the database answers within two seconds, and its round trip.
    pub async fn health(&self) -> DbState {
        let started = Instant::now();
        match tokio::time::timeout(HEALTH_TIMEOUT, store::ping(&self.pool)).await {
            Ok(Ok(())) => DbState {
                reachable: true,
                latency_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
            },
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "console: the database did not answer");
                DbState {
                    reachable: false,
                    latency_ms: None,
                }
            }
            Err(_) => DbState {
                reachable: false,
                latency_ms: None,
            },
        }
    }
}

/// A card whose storage outcome is not known yet.
fn unsettled_cards() -> [CardStatus; 2] {
    [CardStatus::Pending, CardStatus::Unknown]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_counts_each_status_in_one_column() {
        let mut bucket = HourBucket::empty(Utc::now());
        for status in RechargeStatus::ALL {
            bucket.add(status, 1);
        }
        assert_eq!(
            (bucket.confirmed, bucket.undone, bucket.failed, bucket.open),
            (1, 1, 2, 7)
        );
        let open = RechargeStatus::ALL.into_iter().filter(|s| !s.is_final());
        assert_eq!(open.count() as i64, bucket.open);
    }

    #[test]
    fn in_doubt_means_a_money_moving_call() {
        assert_eq!(
            in_doubt_statuses(),
            [
                RechargeStatus::Effectuating,
                RechargeStatus::Confirming,
                RechargeStatus::Undoing
            ]
        );
    }
}
