//! Finding a sale: by order id, NIT and phone (with and without DDD) through the search form;
//! opening it; its timeline has one entry per history entry; the CSV export of a search.

use crate::console::Console;
use crate::helpers::TOKEN;

#[tokio::test]
async fn a_sale_is_found_by_order_id_nit_and_phone() {
    let console = Console::start().await;
    let first = console.pending_top_up("912340001").await;
    let second = console.pending_top_up("912340002").await;
    let (first_id, second_id) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    console.sign_in(TOKEN).await;

    for (what, text, expected) in [
        ("order id", first["order_id"].as_str().unwrap(), first_id),
        ("NIT", second["nit"].as_str().unwrap(), second_id),
        ("phone with its DDD", "11912340001", first_id),
        ("phone without DDD", "912340002", second_id),
        ("recharge id", first_id, first_id),
    ] {
        let found = console.search(text).await;
        assert_eq!(found, vec![expected.to_owned()], "by {what} ({text})");
    }
    // No match: an empty result, not an error.
    assert!(console.search("11900000000").await.is_empty());

    // Both sales without a text (newest first), and the export of that search.
    console.visit("/console/recharges").await;
    console.wait_for("#results").await;
    let all = console.linked_ids("#results").await;
    assert_eq!(all, vec![second_id.to_owned(), first_id.to_owned()]);
    let export = console
        .wait_for("#export-csv")
        .await
        .attribute("href")
        .await
        .expect("an export link");
    assert!(export.contains("/console/recharges.csv"), "{export}");
    let cookie = console.session_cookie().await;
    let export = export.trim_start_matches(&console.base).to_owned();
    let response = console.get_with(&export, &cookie).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    console.check_text("the CSV export", &csv);
    assert!(csv.starts_with('\u{feff}'), "no BOM: {csv:?}");
    assert!(csv.contains(first["order_id"].as_str().unwrap()), "{csv}");
    assert!(csv.contains(second["order_id"].as_str().unwrap()), "{csv}");
    // pt-BR: `;` between fields, R$ 10,00.
    assert!(csv.lines().next().unwrap().contains(';'), "{csv}");
    assert!(csv.contains("10,00"), "{csv}");
}

#[tokio::test]
async fn a_sale_opened_from_the_results_shows_its_whole_timeline() {
    let console = Console::start().await;
    let sale = console.pending_top_up("912340003").await;
    let id = sale["id"].as_str().unwrap();
    console.sign_in(TOKEN).await;
    assert_eq!(
        console.search(sale["order_id"].as_str().unwrap()).await,
        vec![id.to_owned()]
    );
    console.click("#results a.recharge-link").await;
    assert_eq!(
        console.browser.current_url().await,
        console.url(&format!("/console/recharges/{id}"))
    );
    let summary = console.text("#summary").await;
    assert!(summary.contains(sale["nit"].as_str().unwrap()), "{summary}");
    // Chromium asks for en-US (Accept-Language): English, until the switch says otherwise.
    assert!(summary.contains("R$ 10.00"), "{summary}");
    assert!(summary.contains("(PPC)"), "{summary}");
    console.wait_for("#receipt").await;
    console.click("#lang-pt").await;
    let summary = console.text("#summary").await;
    assert!(summary.contains("R$ 10,00"), "{summary}");

    let timeline = console.timeline().await;
    let events = console.app.recharge(id).await["events"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(timeline.len(), events, "{timeline:#?}");
    // An operator sees the actions a pending sale allows.
    console.wait_for("#actions").await;
    console.wait_for("#action-undo").await;
    console.wait_for("#action-confirm").await;
}
