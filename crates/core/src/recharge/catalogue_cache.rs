//! Listing through the catalogue cache (`store::catalogue_cache`): a listing sends Carat the
//! hash of the entry cached for it, and Carat's answer says whether that entry is still good.
//!
//! What Carat answers to a listing whose hash is current is not documented (API digest §3.2:
//! "whether the dealer list is omitted when the hashes match" is [UNKNOWN]). The tolerant
//! reading, kept in [`judge`] alone: an answer with nothing listed, carrying the very hash that
//! was sent, means "yours is current" and the cached entry is served; an answer that lists
//! something is the full list, served and cached under its hash (a new hash replaces the
//! cache); an answer with no valid hash is served as it is and cached nowhere.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::catalog::DEALERS_LISTING;
use super::views::{BranchData, Dealers};
use super::{FlowError, RechargeService};
use carat_domain::{GeneralHash, RechargeType};
use carat_store::catalogue_cache::Cached;
use carat_store::listings::ListingKey;
use carat_store::{self as store, CallRecord, Recharge};

/// A listing the cache can hold: what hash it came with, and whether it lists anything.
pub(super) trait Listing: Serialize + DeserializeOwned {
    fn general_hash(&self) -> Option<&str>;
    fn lists_nothing(&self) -> bool;
}

impl Listing for Dealers {
    fn general_hash(&self) -> Option<&str> {
        self.general_hash.as_deref()
    }

    fn lists_nothing(&self) -> bool {
        self.dealers.is_empty()
    }
}

impl Listing for BranchData {
    fn general_hash(&self) -> Option<&str> {
        self.general_hash.as_deref()
    }

    fn lists_nothing(&self) -> bool {
        self.categories.is_empty() && self.questions.is_empty() && self.messages.is_empty()
    }
}

/// What an answer to a listing means for the cache.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The hash sent is current: serve the cached entry.
    Current,
    /// The full list, under this hash: serve it and cache it.
    Full(GeneralHash),
    /// No valid hash came with it: serve it, cache nothing.
    Unversioned,
}

/// `sent`: the hash of the cached entry sent with the listing (none when nothing was cached,
/// and `0000000000000000` went out).
fn judge(sent: Option<&GeneralHash>, answered: Option<&str>, lists_nothing: bool) -> Verdict {
    let Some(answered) = answered.and_then(|h| GeneralHash::parse(h).ok()) else {
        return Verdict::Unversioned;
    };
    match sent {
        Some(sent) if *sent == answered && lists_nothing => Verdict::Current,
        _ => Verdict::Full(answered),
    }
}

/// Which listings are the same for every recharge of a type, and so may be cached: all but an
/// `invoice` recharge's branch data, which is the customer's own bill.
fn cacheable(recharge_type: RechargeType, listing: &ListingKey) -> bool {
    recharge_type != RechargeType::Invoice || listing == DEALERS_LISTING
}

/// What this process knows of the catalogue cache's rows, kept by `shared_memory`'s rule.
///
/// Why a stale copy cannot move money: an entry is served only when Carat, answering the
/// listing that sent the entry's own hash, says that hash is current (see [`judge`]); and the
/// hash sent with a create or an effectuation only tells Carat what this side holds, and Carat
/// answers with its current one. A stale copy costs a full listing, never a wrong one.
#[derive(Debug, Default)]
pub(super) struct CatalogueCopy {
    /// `Some`: the current hash is known (`None` inside: no answer carried one yet).
    hash: Option<Option<GeneralHash>>,
    /// Entries looked up under that hash: `None` where the database had none.
    entries: HashMap<(RechargeType, String), Option<Arc<Cached>>>,
}

impl CatalogueCopy {
    /// `hash` is the current one: entries kept under another are gone (the cascade).
    fn current(&mut self, hash: &GeneralHash) {
        if self.hash.as_ref().and_then(Option::as_ref) != Some(hash) {
            self.entries.clear();
        }
        self.hash = Some(Some(hash.clone()));
    }
}

impl RechargeService {
    /// The hash to send on a create or an effectuation: the current one, or "nothing cached".
    pub(super) async fn general_hash(&self) -> Result<GeneralHash, FlowError> {
        let hash = match self.catalogue.read(|c| c.hash.clone()).flatten() {
            Some(hash) => hash,
            None => {
                let stamp = self.catalogue.stamp();
                let hash = store::catalogue_cache::current_hash(&self.pool).await?;
                self.catalogue
                    .learnt(stamp, |c| c.hash = Some(hash.clone()));
                hash
            }
        };
        Ok(hash.unwrap_or_else(GeneralHash::none_cached))
    }

    /// Takes the hash of an answer that lists nothing (create, effectuation): a new one
    /// replaces the cache. One that is missing or malformed changes nothing. Never fails: the
    /// cache only saves listings, and a hash it could not take comes again with the next
    /// answer, while the call's own outcome is already recorded.
    pub(super) async fn take_general_hash(&self, hash: Option<&str>) {
        let Some(hash) = hash.and_then(|h| GeneralHash::parse(h).ok()) else {
            return;
        };
        let known = self.catalogue.read(|c| c.hash.clone()).flatten().flatten();
        if known.as_ref() == Some(&hash) {
            return;
        }
        let stamp = self.catalogue.stamp();
        match store::catalogue_cache::learn(&self.pool, &hash).await {
            Ok(()) => self.catalogue.learnt(stamp, |c| c.current(&hash)),
            Err(error) => {
                tracing::warn!(%hash, error = %error, "the catalogue cache could not take a new general hash");
            }
        }
    }

    /// The entry cached for `listing` of `recharge_type`, from this process's copy if it is
    /// good, else from the database.
    async fn cached_entry(
        &self,
        recharge_type: RechargeType,
        listing: &ListingKey,
    ) -> Result<Option<Arc<Cached>>, FlowError> {
        let key = (recharge_type, listing.as_key());
        if let Some(Some(entry)) = self.catalogue.read(|c| c.entries.get(&key).cloned()) {
            return Ok(entry);
        }
        let stamp = self.catalogue.stamp();
        let found = store::catalogue_cache::find(&self.pool, recharge_type, listing).await?;
        let found = found.map(Arc::new);
        self.catalogue.learnt(stamp, |c| {
            // Found under another hash than the one known: the copy is behind; start again.
            if let Some(entry) = &found
                && c.hash
                    .as_ref()
                    .is_some_and(|h| h.as_ref() != Some(&entry.general_hash))
            {
                *c = CatalogueCopy::default();
            }
            c.entries.insert(key, found.clone());
        });
        Ok(found)
    }

    /// Caches `body` as `listing`'s entry under `hash`, here and in the database.
    async fn keep_entry(
        &self,
        recharge_type: RechargeType,
        listing: &ListingKey,
        hash: &GeneralHash,
        body: serde_json::Value,
    ) -> Result<(), FlowError> {
        let stamp = self.catalogue.stamp();
        store::catalogue_cache::keep(&self.pool, recharge_type, listing, hash, &body).await?;
        self.catalogue.learnt(stamp, |c| {
            c.current(hash);
            let entry = Cached {
                general_hash: hash.clone(),
                body,
            };
            c.entries
                .insert((recharge_type, listing.as_key()), Some(Arc::new(entry)));
        });
        Ok(())
    }

    /// Lists `listing` of `recharge` by `call`, which is given the hash to send, through the
    /// cache: see the module's comment. The call's record comes back with the listing, for
    /// the caller to keep with it.
    pub(super) async fn list_through_cache<T, F, Fut>(
        &self,
        recharge: &Recharge,
        listing: &ListingKey,
        call: F,
    ) -> Result<(T, CallRecord), FlowError>
    where
        T: Listing,
        F: FnOnce(GeneralHash) -> Fut,
        Fut: Future<Output = Result<(T, CallRecord), FlowError>>,
    {
        let recharge_type = recharge.recharge_type;
        let cacheable = cacheable(recharge_type, listing);
        let cached = match cacheable {
            true => self.cached_entry(recharge_type, listing).await?,
            false => None,
        };
        // An entry that no longer reads as a view counts as never cached.
        let cached =
            cached.and_then(|c| Some((c.general_hash.clone(), T::deserialize(&c.body).ok()?)));
        let sent = cached.as_ref().map(|(hash, _)| hash.clone());
        let (answer, call) = call(sent.clone().unwrap_or_else(GeneralHash::none_cached)).await?;
        let verdict = judge(sent.as_ref(), answer.general_hash(), answer.lists_nothing());
        let served = match (verdict, cached) {
            (Verdict::Current, Some((_, view))) => view,
            (Verdict::Full(hash), _) if cacheable => {
                let body = serde_json::to_value(&answer).expect("a view serializes");
                self.keep_entry(recharge_type, listing, &hash, body).await?;
                answer
            }
            (Verdict::Full(hash), _) => {
                self.take_general_hash(Some(hash.as_str())).await;
                answer
            }
            // Unversioned (`Current` always has the entry whose hash was sent).
            _ => answer,
        };
        Ok((served, call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> GeneralHash {
        GeneralHash::parse(s).unwrap()
    }

    const OLD: &str = "09A9681D09A9681D";
    const NEW: &str = "AF32810AAF32810A";

    #[test]
    fn an_empty_answer_with_the_hash_sent_means_the_cache_is_current() {
        assert_eq!(judge(Some(&hash(OLD)), Some(OLD), true), Verdict::Current);
    }

    #[test]
    fn a_list_is_the_full_list_whatever_hash_was_sent() {
        assert_eq!(
            judge(Some(&hash(OLD)), Some(OLD), false),
            Verdict::Full(hash(OLD))
        );
        assert_eq!(
            judge(Some(&hash(OLD)), Some(NEW), false),
            Verdict::Full(hash(NEW))
        );
        assert_eq!(judge(None, Some(NEW), false), Verdict::Full(hash(NEW)));
    }

    #[test]
    fn an_empty_answer_is_taken_as_it_is_unless_it_confirms_the_hash_sent() {
        // Nothing was cached: there is nothing to serve but the (empty) answer.
        assert_eq!(judge(None, Some(NEW), true), Verdict::Full(hash(NEW)));
        // Another hash: the tables changed, and this is what they list now.
        assert_eq!(
            judge(Some(&hash(OLD)), Some(NEW), true),
            Verdict::Full(hash(NEW))
        );
    }

    #[test]
    fn an_answer_without_a_valid_hash_caches_nothing() {
        assert_eq!(judge(Some(&hash(OLD)), None, true), Verdict::Unversioned);
        assert_eq!(
            judge(Some(&hash(OLD)), Some("short"), false),
            Verdict::Unversioned
        );
    }

    #[test]
    fn only_a_customers_bill_is_never_cached() {
        let branches = ListingKey::Branches {
            ddd: carat_domain::Ddd::parse("11").unwrap(),
            dealer: 1,
        };
        assert!(cacheable(RechargeType::Normal, &branches));
        assert!(cacheable(RechargeType::Others, DEALERS_LISTING));
        assert!(cacheable(RechargeType::Invoice, DEALERS_LISTING));
        assert!(!cacheable(RechargeType::Invoice, &branches));
    }
}
