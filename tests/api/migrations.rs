//! Migrations applied to a database that already holds rows, as production's does.

use carat_merchant::api::views::RechargeView;
use carat_store::{self as store, MIGRATOR};
use serde_json::json;
use sqlx::migrate::MigrateDatabase;
use uuid::Uuid;

use crate::database::{TestDatabase, server_url};

/// The last migration before effectuations were stored per kind.
const BEFORE_PER_KIND: i64 = 20261121000004;

#[tokio::test]
async fn a_top_up_stored_in_phone_columns_reads_back_the_same_after_the_reshape() {
    let db = TestDatabase::on(&server_url());
    sqlx::Postgres::create_database(&db.url()).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
    MIGRATOR.run_to(BEFORE_PER_KIND, &pool).await.unwrap();
    let (effectuated, untouched) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO recharges (id, recharge_type, order_id, nit, status, carat_status, \
            started_at, effectuated_at, next_attempt_at, dealer_code, dealer_type_code, \
            phone_ddd, phone_number, amount_cents, amount_key, esitef_usn, authorization_data, \
            customer_receipt, merchant_receipt) \
         VALUES ('{effectuated}', 'normal', 'ORDER1', '{nit}', 'pending_confirmation', 'PPC', \
            now(), now(), now(), '001', '1', '11', '987654321', 1000, '1', '123456789012345', \
            '{{\"number\": \"0042\", \"kind\": null}}', 'CUSTOMER', 'MERCHANT'); \
         INSERT INTO recharges (id, recharge_type, order_id, status, next_attempt_at, \
            dealer_code, dealer_type_code, phone_ddd, phone_number, amount_cents) \
         VALUES ('{untouched}', 'normal', 'ORDER2', 'created', now(), \
            '002', '3', '21', '32345678', 500);",
        nit = "N".repeat(64),
    )))
    .execute(&pool)
    .await
    .unwrap();

    MIGRATOR.run(&pool).await.unwrap();

    let view = |id| {
        let pool = pool.clone();
        async move {
            let recharge = store::recharges::find(&pool, id).await.unwrap().unwrap();
            serde_json::to_value(RechargeView::new(recharge, None)).unwrap()
        }
    };
    let first = view(effectuated).await;
    assert_eq!(
        first["effectuation"],
        json!({"dealer": {"code": "001", "type_code": "1"},
               "phone": {"ddd": "11", "number": "987654321"},
               "amount": 1000, "amount_key": "1"})
    );
    assert_eq!(first["esitef_usn"], "123456789012345");
    // Carat's authorization is kept as it was, nulls included.
    assert_eq!(
        first["authorization"],
        json!({"number": "0042", "kind": null})
    );
    assert_eq!(
        first["receipts"],
        json!({"customer": "CUSTOMER", "merchant": "MERCHANT"})
    );
    let second = view(untouched).await;
    assert_eq!(
        second["effectuation"],
        json!({"dealer": {"code": "002", "type_code": "3"},
               "phone": {"ddd": "21", "number": "32345678"},
               "amount": 500, "amount_key": null})
    );
    assert_eq!(second["esitef_usn"], json!(null));
    assert_eq!(second["authorization"], json!(null));

    // The tag is the row's kind: a value of another kind is refused by the database itself.
    let refused = sqlx::query(
        "UPDATE recharges SET effectuation = effectuation || '{\"kind\": \"others\"}' \
         WHERE id = $1",
    )
    .bind(effectuated)
    .execute(&pool)
    .await;
    assert!(refused.is_err(), "{refused:?}");
    pool.close().await;
}
