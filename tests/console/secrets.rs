//! No page shows a secret: sales paid with every test card (approved, denied, answered too
//! late, a stored card by its id), a PIN sale, a stored card's token in a refused HASH
//! notification; the overview, the search, every sale's page, every queue and the CSV export
//! are searched for the card numbers, the security code, the tokens, the merchant key, the
//! stored card's token at Carat and the PIN (`Console::check_page` on every page).

use std::time::Duration;

use carat_sandbox::notifier::{Channel, Notification};
use reqwest::StatusCode;
use serde_json::json;

use crate::console::{CARD_DENIED, CARD_OK, CARD_SLOW, CARD_STORED, Console, SUPPORT};
use crate::helpers::{Options, TOKEN, TestApp, post_to};
use crate::payments::{SECURITY_CODE, paid};

/// The HASH notifications the sandbox finished for `nita` (answered or given up).
fn hash_notifications(console: &Console, nita: &str) -> Vec<Notification> {
    console
        .app
        .sandbox
        .notifications()
        .into_iter()
        .filter(|n| n.channel == Channel::Hash)
        .filter(|n| n.form.iter().any(|(k, v)| k == "nita" && v == nita))
        .collect()
}

async fn until_hash_finished(console: &Console, nita: &str) -> Notification {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(done) = hash_notifications(console, nita)
            .into_iter()
            .find(|n| n.finished)
        {
            return done;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no HASH notification for {nita}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn no_page_shows_a_card_number_a_token_or_a_hidden_pin() {
    let console = Console::start_with(Options {
        // Long enough for a loaded machine, short enough to wait for a late answer.
        carat_timeout: Duration::from_millis(1000),
        slow_answer_delay: Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let [approved, denied, late] = sales_paid_with_every_test_card(&console.app).await;
    let (stored, by_token) = a_stored_card_and_a_sale_paid_with_it(&console).await;
    a_hash_notification_for_a_card_nobody_stored(&console, &stored).await;
    // A PIN sale, its PIN never revealed here.
    let (pin_sale, _pin) = console.pin_sale().await;

    let sales = [
        approved,
        denied,
        late.clone(),
        by_token,
        pin_sale["id"].as_str().unwrap().to_owned(),
    ];
    for token in [TOKEN, SUPPORT] {
        every_page_as(&console, token, &sales, &late).await;
    }
    assert!(console.pages_checked() >= 40, "{}", console.pages_checked());
}

/// Card sales: approved (pending confirmation), denied, answered too late (in doubt); their
/// ids in that order.
async fn sales_paid_with_every_test_card(app: &TestApp) -> [String; 3] {
    let approved = app.paid_top_up(CARD_OK).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.answer);
    let denied = app.paid_top_up(CARD_DENIED).await;
    assert_eq!(
        denied.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        denied.answer
    );
    let late = app.paid_top_up(CARD_SLOW).await;
    assert_eq!(late.status, StatusCode::GATEWAY_TIMEOUT, "{}", late.answer);
    [approved.id, denied.id, late.id]
}

/// A stored card, its token at Carat a secret, and a top-up paid with it: the card's finished
/// HASH notification and the sale's id.
async fn a_stored_card_and_a_sale_paid_with_it(console: &Console) -> (Notification, String) {
    let app = &console.app;
    let (status, card) = post_to(
        &app.client,
        app.url("/api/v1/cards"),
        &json!({"customer_id": "CONSOLE1", "authorizer_id": "1",
                "card": {"number": CARD_STORED, "expiry_date": "1230"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let nita = card["nita"].as_str().unwrap().to_owned();
    let stored = until_hash_finished(console, &nita).await;
    assert!(stored.delivered, "{stored:?}");
    let token = app.sandbox.stored_card_by_nita(&nita).expect("kept").token;
    console.keep_secret(&token);
    let by_token = app.create_recharge().await;
    let by_token_id = by_token["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post_json(
            &format!("/api/v1/recharges/{by_token_id}/effectuate"),
            paid(json!({"stored_card_id": card["id"], "security_code": SECURITY_CODE})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (stored, by_token_id)
}

/// The same HASH notification as `stored`'s for a card nobody stored: kept as unmatched,
/// redacted (the pages then show it, and must not show its token).
async fn a_hash_notification_for_a_card_nobody_stored(console: &Console, stored: &Notification) {
    let stray = "STRAYNITA00000000000000000000001";
    let form = stored
        .form
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "nita" {
                    stray.to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    console.app.sandbox.send_notification(Channel::Hash, form);
    until_hash_finished(console, stray).await;
}

/// Signed in with `token`: the overview, the search, every queue, every one of `sales` (all
/// listed), and the CSV exports, each checked for secrets (`Console::visit` and
/// `Console::check_text`); the `late` sale is in doubt's queue.
async fn every_page_as(console: &Console, token: &str, sales: &[String], late: &str) {
    console.browser.delete_cookies().await;
    console.sign_in(token).await;
    for page in [
        "/console",
        "/console/recharges",
        "/console/queues/in-doubt",
        "/console/queues/overdue",
        "/console/queues/awaiting-choice",
        "/console/queues/callbacks",
        "/console/queues/cards",
        "/console/recharges?lang=en",
    ] {
        console.visit(page).await;
        console.wait_for("#nav").await;
    }
    let listed = console.linked_ids("#results").await;
    for id in sales {
        assert!(listed.contains(id), "{id} not listed: {listed:?}");
        console.open_recharge(id).await;
    }
    console.visit("/console/queues/in-doubt").await;
    assert!(
        console
            .linked_ids("#queue")
            .await
            .iter()
            .any(|id| id == late),
        "the late sale is not in doubt's queue"
    );
    let cookie = console.session_cookie().await;
    for export in ["/console/recharges.csv", "/console/recharges.csv?lang=en"] {
        let response = console.get_with(export, &cookie).await;
        assert_eq!(response.status(), StatusCode::OK);
        console.check_text(export, &response.text().await.unwrap());
    }
}
