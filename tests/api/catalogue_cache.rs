//! The `general_hash` catalogue cache: dealers and branch data are kept per general hash, the
//! cached hash goes to Carat on create and on listings, a listing Carat confirms as current
//! (the sandbox then lists nothing) is served from the cache, and a new hash in any answer
//! replaces the cache.

use carat_domain::GeneralHash;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PHONE_OK, TestApp, spawn_app};

const NONE_CACHED: &str = "0000000000000000";
/// The sandbox's general hash until a test changes it.
const FIRST: &str = "09A9681D09A9681D";

struct Listed {
    id: String,
    nit: String,
    dealers: Value,
    branches: Value,
}

impl TestApp {
    async fn create_and_list(&self) -> Listed {
        let created = self.create_recharge().await;
        let id = created["id"].as_str().unwrap().to_owned();
        let nit = created["nit"].as_str().unwrap().to_owned();
        let (dealers, branches) = self.list(&id).await;
        Listed {
            id,
            nit,
            dealers,
            branches,
        }
    }

    /// The recharge's dealers, then the branch data of dealer 001 in area 11.
    async fn list(&self, id: &str) -> (Value, Value) {
        self.list_catalogue(id, "001", "11").await
    }

    /// What the sandbox received for this NIT: the create's hash, then each listing's.
    fn hashes_sent(&self, nit: &str) -> (String, Vec<String>) {
        let tx = self.sandbox.transaction(nit).unwrap();
        let listings = tx.listing_general_hashes.into_iter().map(Option::unwrap);
        (tx.create_general_hash.unwrap(), listings.collect())
    }

    /// The cache's rows: (listing, general hash), and the current hash.
    async fn cache(&self) -> (Vec<(String, String)>, Option<String>) {
        let rows =
            sqlx::query_as("SELECT listing, general_hash FROM catalogue_cache ORDER BY listing")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        let current = sqlx::query_scalar("SELECT general_hash FROM catalogue_version")
            .fetch_optional(&self.pool)
            .await
            .unwrap();
        (rows, current)
    }

    fn change_tables(&self, hash: &str) {
        self.sandbox
            .set_general_hash(GeneralHash::parse(hash).unwrap());
    }
}

fn cached(hash: &str, listings: &[&str]) -> Vec<(String, String)> {
    listings
        .iter()
        .map(|l| ((*l).to_owned(), hash.to_owned()))
        .collect()
}

const BRANCHES: &str = "branches ddd=11 dealer=1";

#[tokio::test]
async fn a_second_listing_sends_the_cached_hash_and_serves_the_same_data() {
    let app = spawn_app().await;
    let first = app.create_and_list().await;
    assert_eq!(
        app.hashes_sent(&first.nit),
        (NONE_CACHED.into(), vec![NONE_CACHED.into(); 2]),
        "nothing was cached yet"
    );
    assert_eq!(first.dealers["dealers"].as_array().unwrap().len(), 5);
    assert_eq!(
        app.cache().await,
        (cached(FIRST, &[BRANCHES, "dealers"]), Some(FIRST.into()))
    );

    let second = app.create_and_list().await;
    // Carat was sent the cached hash, listed nothing (the sandbox's answer to a current hash),
    // and the storefront was served the same lists, from the cache.
    assert_eq!(
        app.hashes_sent(&second.nit),
        (FIRST.into(), vec![FIRST.into(); 2])
    );
    assert_eq!(second.dealers, first.dealers);
    assert_eq!(second.branches, first.branches);

    // A listing served from the cache is kept for the recharge too: its effectuation is checked
    // against it, and goes through.
    let (status, body) = app.effectuate(&second.id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_confirmation", "{body}");
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM recharge_listings WHERE recharge_id = $1::uuid")
            .bind(&second.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(kept, 2);
}

#[tokio::test]
async fn a_new_general_hash_brings_the_full_lists_again_and_replaces_the_cache() {
    let app = spawn_app().await;
    let first = app.create_and_list().await;

    // The tables change between a create and its listings: the listing sends the old hash,
    // gets the full list under the new one, and the old entries go.
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    let second = "AF32810AAF32810A";
    app.change_tables(second);
    let (status, dealers) = app
        .get_json(&format!("/api/v1/recharges/{id}/dealers"))
        .await;
    assert_eq!(status, StatusCode::OK, "{dealers}");
    assert_eq!(dealers["general_hash"], second);
    assert_eq!(dealers["dealers"], first.dealers["dealers"]);
    assert_eq!(
        app.cache().await,
        (cached(second, &["dealers"]), Some(second.into()))
    );
    let (_, branches) = app
        .get_json(&format!(
            "/api/v1/recharges/{id}/branches?dealer_code=001&ddd=11"
        ))
        .await;
    assert_eq!(branches["categories"], first.branches["categories"]);
    assert_eq!(
        app.hashes_sent(nit),
        (FIRST.into(), vec![FIRST.into(), NONE_CACHED.into()]),
        "the old hash for the dealers; nothing cached any more for the branch data"
    );
    assert_eq!(
        app.cache().await,
        (cached(second, &[BRANCHES, "dealers"]), Some(second.into()))
    );

    // A new hash in a create's answer (the authenticity POST's `generalHash`) replaces the
    // cache: the create sent the hash it knew, and the next listings have nothing cached.
    let third = "B0B0B0B0B0B0B0B0";
    app.change_tables(third);
    let created = app.create_recharge().await;
    let (id, nit) = (
        created["id"].as_str().unwrap(),
        created["nit"].as_str().unwrap(),
    );
    assert_eq!(app.cache().await, (vec![], Some(third.into())));
    let (dealers, _) = app.list(id).await;
    assert_eq!(dealers["general_hash"], third);
    assert_eq!(dealers["dealers"], first.dealers["dealers"]);
    assert_eq!(
        app.hashes_sent(nit),
        (second.into(), vec![NONE_CACHED.into(); 2])
    );
    assert_eq!(
        app.cache().await,
        (cached(third, &[BRANCHES, "dealers"]), Some(third.into()))
    );

    // And so does one in an effectuation's answer.
    let fourth = "C0C0C0C0C0C0C0C0";
    app.change_tables(fourth);
    let (status, body) = app.effectuate(id, PHONE_OK, 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.cache().await, (vec![], Some(fourth.into())));
}

/// Each instance keeps the catalogue cache's rows in memory (`carat_core::shared_memory`): a
/// change nobody announces is not seen (the copy is what is served), and a new hash another
/// instance learns is seen here as soon as its notification arrives.
#[tokio::test]
async fn a_new_hash_another_instance_learns_is_seen_here() {
    let app = spawn_app().await;
    let other = app.spawn_second_instance().await;
    app.create_and_list().await;
    app.create_and_list().await;

    // Rows deleted behind the instances' back, unannounced: this one still serves its copy
    // (it sends the hash of the entry it holds, and Carat confirms it).
    sqlx::query("DELETE FROM catalogue_cache")
        .execute(&app.pool)
        .await
        .unwrap();
    let served = app.create_and_list().await;
    assert_eq!(
        app.hashes_sent(&served.nit),
        (FIRST.into(), vec![FIRST.into(); 2]),
        "the copy in memory, not the rows, answered"
    );
    assert_eq!(served.dealers["dealers"].as_array().unwrap().len(), 5);

    // Carat's tables change, and the other instance learns it from a create's answer.
    let second = "AF32810AAF32810A";
    app.change_tables(second);
    let (status, created) = crate::helpers::post_to(
        &app.client,
        format!("{other}/api/v1/recharges"),
        &serde_json::json!({"recharge_type": "normal"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(app.cache().await.1, Some(second.into()));

    // This instance dropped its copy when the change was announced: it sends the new hash.
    let seen = app.create_and_list().await;
    assert_eq!(
        app.hashes_sent(&seen.nit),
        (second.into(), vec![NONE_CACHED.into(); 2]),
        "the new hash, and nothing cached under it yet"
    );
}
