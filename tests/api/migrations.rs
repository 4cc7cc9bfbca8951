//! Migrations applied to a database that already holds rows, as production's does.

use carat_merchant::api::views::RechargeView;
use carat_merchant::store::{self, MIGRATOR};
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

/// The last migration before a status notification's receipts stopped being kept in clear.
const BEFORE_RECEIPTS_SCRUBBED: i64 = 20261121000017;

#[tokio::test]
async fn receipts_kept_by_status_notifications_before_are_scrubbed() {
    let db = TestDatabase::on(&server_url());
    sqlx::Postgres::create_database(&db.url()).await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url()).await.unwrap();
    MIGRATOR
        .run_to(BEFORE_RECEIPTS_SCRUBBED, &pool)
        .await
        .unwrap();
    let id = Uuid::new_v4();
    let pin = "1234-5678-9012-3456";
    let detail = json!({"nit": "N", "status": "CON", "nsu_sitef": "000123",
                        "customer_receipt": format!("VIA CLIENTE\nPIN: {pin}"),
                        "merchant_receipt": "VIA LOJA", "tid": null});
    sqlx::query(
        "INSERT INTO recharges (id, recharge_type, order_id, status, next_attempt_at) \
         VALUES ($1, 'others', 'ORDER1', 'created', now())",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    let bodies = [
        format!(
            "nit=N&status=CON&cupom=VIA+CLIENTE%0APIN%3A+{pin}&cupomEstabelecimento=LOJA&cupomX=1"
        ),
        format!("nit=N&status=CON&cup%6Fm={pin}"),
        "nit=N&status=NEG&cupom=&nsuSitef=1".to_owned(),
    ];
    let mut ids = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let callback: i64 = sqlx::query_scalar(
            "INSERT INTO callbacks (kind, dedupe_key, outcome, http_status, recharge_id, raw_body) \
             VALUES ('status', $1, 'accepted', 200, $2, $3) RETURNING id",
        )
        .bind(format!("key{i}"))
        .bind(id)
        .bind(body.as_bytes())
        .fetch_one(&pool)
        .await
        .unwrap();
        ids.push(callback);
    }
    sqlx::query(
        "INSERT INTO payment_notifications (callback_id, recharge_id, status, advance, \
             follow_up, detail) VALUES ($1, $2, 'CON', 'forward', 'none', $3)",
    )
    .bind(ids[0])
    .bind(id)
    .bind(&detail)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO recharge_events (recharge_id, kind, name, detail) \
         VALUES ($1, 'callback', 'status_notification', $2)",
    )
    .bind(id)
    .bind(json!({"status": "CON", "notification": detail}))
    .execute(&pool)
    .await
    .unwrap();

    MIGRATOR.run(&pool).await.unwrap();

    let kept: Vec<Vec<u8>> = sqlx::query_scalar("SELECT raw_body FROM callbacks ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let kept: Vec<String> = kept
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    assert_eq!(
        kept,
        vec![
            "nit=N&status=CON&cupom=[redacted]&cupomEstabelecimento=[redacted]&cupomX=1",
            "[redacted whole: kept before receipts were redacted]",
            "nit=N&status=NEG&cupom=[redacted]&nsuSitef=1",
        ]
    );
    let detail: serde_json::Value = sqlx::query_scalar("SELECT detail FROM payment_notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(detail["customer_receipt"], "[not kept]");
    assert_eq!(detail["merchant_receipt"], "[not kept]");
    assert_eq!(detail["nsu_sitef"], "000123");
    let event: serde_json::Value = sqlx::query_scalar("SELECT detail FROM recharge_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(event["notification"]["customer_receipt"], "[not kept]");
    assert!(!event.to_string().contains(pin), "{event}");
    // The history is append-only again.
    let rewrite = sqlx::query("UPDATE recharge_events SET name = 'x'")
        .execute(&pool)
        .await;
    assert!(rewrite.is_err(), "{rewrite:?}");
    pool.close().await;
}
