//! `Idempotency-Key`: the keys a storefront's POSTs are claimed, leased, completed and purged
//! under, and the answers kept with them. What a key's request is (its fingerprint) and which
//! answers are worth keeping are the HTTP door's to say; holding the key is this layer's, so
//! the door never reaches the store itself.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use carat_store::StoreError;
use carat_store::idempotency::{self as keys, Claim, KeyRef, StoredAnswer};

/// The keys' use cases; cheap to clone.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pool: PgPool,
    /// How long a key and its answer are kept.
    ttl: Duration,
}

impl Idempotency {
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self { pool, ttl }
    }

    /// Claims `key` for the request fingerprinted `fingerprint`, leased for `lease`.
    pub async fn claim(
        &self,
        key: &KeyRef<'_>,
        fingerprint: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        keys::claim(&self.pool, key, fingerprint, lease, self.ttl).await
    }

    /// Extends the lease while the request runs; `false` when it was lost.
    pub async fn renew(
        &self,
        key: &KeyRef<'_>,
        token: Uuid,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        keys::renew(&self.pool, key, token, lease).await
    }

    /// Keeps the request's answer, to replay it to the same key.
    pub async fn complete(
        &self,
        key: &KeyRef<'_>,
        token: Uuid,
        answer: &StoredAnswer,
    ) -> Result<bool, StoreError> {
        keys::complete(&self.pool, key, token, answer).await
    }

    /// Lets the key go with no answer kept: the same key may run again.
    pub async fn release(&self, key: &KeyRef<'_>, token: Uuid) -> Result<bool, StoreError> {
        keys::release(&self.pool, key, token).await
    }

    /// Deletes the keys older than the TTL; how many.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        keys::purge_expired(&self.pool, self.ttl).await
    }
}
