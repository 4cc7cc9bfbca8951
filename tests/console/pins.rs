//! A PIN sale's page masks the PIN; an operator reveals it with a reason, which the history
//! records (an `operator_action` entry with the operator's name); the PIN is on the reveal's
//! answer only.

use crate::console::{Console, token_id};
use crate::helpers::TOKEN;

#[tokio::test]
async fn a_pin_is_shown_only_when_revealed_and_the_reveal_is_audited() {
    let console = Console::start().await;
    let (sale, pin) = console.pin_sale().await;
    let id = sale["id"].as_str().unwrap();
    console.sign_in(TOKEN).await;

    // Masked: the page (checked for the PIN by `open_recharge`) shows the mask only.
    console.open_recharge(id).await;
    console.wait_for("#receipt #pin-masked").await;
    assert!(console.browser.find("#pin-revealed").await.is_none());
    let entries_before = console.timeline().await.len();

    let reason = "Cliente ligou: PIN nao chegou, protocolo 5521";
    let digits = pin.replace('-', "");
    console.reveal(&pin);
    console.reveal(&digits);
    console.act("reveal", reason).await;
    let shown = console.text("#pin-revealed").await;
    assert!(
        shown.contains(&pin) || shown.replace(['-', ' '], "").contains(&digits),
        "{shown} is not {pin}"
    );
    console.keep_secret(&pin);
    console.keep_secret(&digits);

    // Audited: the history has the reveal, by this operator, with the reason.
    console.open_recharge(id).await;
    assert!(console.browser.find("#pin-revealed").await.is_none());
    let timeline = console.timeline().await;
    assert_eq!(timeline.len(), entries_before + 1, "{timeline:#?}");
    let operator = format!("operator:{}", token_id(TOKEN));
    let entry = timeline
        .iter()
        .find(|e| e.contains(reason))
        .unwrap_or_else(|| panic!("no entry with the reason: {timeline:#?}"));
    assert!(entry.contains(&operator), "{entry}");
    let stored = console.app.recharge(id).await;
    let audited: Vec<_> = stored["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "operator_action")
        .collect();
    assert_eq!(audited.len(), 1, "{stored}");
    assert_eq!(audited[0]["actor"], operator.as_str(), "{stored}");
    assert!(audited[0].to_string().contains("reveal_pin"), "{stored}");
    // Revealing changes nothing else: still pending confirmation.
    assert_eq!(stored["status"], "pending_confirmation");
}
