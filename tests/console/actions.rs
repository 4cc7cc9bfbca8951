//! Operator actions from a sale's page: an undo with a reason is recorded with the operator's
//! name and the reason, and calls Carat once; an empty reason is refused. Support staff see no
//! actions and a forged action POST from their session is refused; a POST without its CSRF
//! token, or with another, is refused too.

use reqwest::StatusCode;

use crate::console::{Console, SUPPORT, action_form, token_id};
use crate::helpers::{TOKEN, event_names};

#[tokio::test]
async fn an_operator_undoes_a_pending_sale_with_a_reason() {
    let console = Console::start().await;
    let sale = console.pending_top_up("912340011").await;
    let (id, nit) = (sale["id"].as_str().unwrap(), sale["nit"].as_str().unwrap());
    console.sign_in(TOKEN).await;
    console.open_recharge(id).await;
    let entries_before = console.timeline().await.len();

    // No reason: refused, nothing done.
    console.act("undo", "   ").await;
    console.wait_for("#error").await;
    assert_eq!(
        console.app.recharge(id).await["status"],
        "pending_confirmation"
    );
    assert_eq!(
        console
            .app
            .sandbox
            .transaction(nit)
            .unwrap()
            .confirmation_requests,
        0
    );

    console.open_recharge(id).await;
    let reason = "Cliente desistiu pelo telefone, chamado 4471";
    console.act("undo", reason).await;
    console.wait_for("#flash").await;
    assert_eq!(
        console.browser.current_url().await,
        console.url(&format!("/console/recharges/{id}")),
        "the POST answers 303 back to the sale's page"
    );

    let operator = format!("operator:{}", token_id(TOKEN));
    let timeline = console.timeline().await;
    assert!(timeline.len() > entries_before, "{timeline:#?}");
    let action = timeline
        .iter()
        .find(|e| e.contains(reason))
        .unwrap_or_else(|| panic!("no entry with the reason: {timeline:#?}"));
    assert!(action.contains(&operator), "{action}");
    assert!(
        console
            .wait_for("#summary")
            .await
            .text()
            .await
            .contains("(PPN)")
    );

    // What the API and Carat say: undone once, by this operator.
    let undone = console.app.recharge(id).await;
    assert_eq!(undone["status"], "undone", "{undone}");
    let actions: Vec<_> = undone["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "operator_action")
        .collect();
    assert_eq!(actions.len(), 1, "{undone}");
    assert_eq!(actions[0]["actor"], operator.as_str(), "{undone}");
    let undos = event_names(&undone)
        .iter()
        .filter(|e| *e == "outbound_call:undo")
        .count();
    assert_eq!(undos, 1, "{undone}");
    let tx = console.app.sandbox.transaction(nit).unwrap();
    assert_eq!((tx.status.as_str(), tx.confirmation_requests), ("PPN", 1));

    // Undone, the page offers no undo any more.
    console.open_recharge(id).await;
    assert!(console.browser.find("#action-undo").await.is_none());
}

#[tokio::test]
async fn support_staff_see_no_actions_and_their_forged_post_is_refused() {
    let console = Console::start().await;
    let sale = console.pending_top_up("912340012").await;
    let (id, nit) = (sale["id"].as_str().unwrap(), sale["nit"].as_str().unwrap());
    console.sign_in(SUPPORT).await;
    let whoami = console.text("#whoami").await;
    assert!(whoami.contains(&token_id(SUPPORT)), "{whoami}");
    console.open_recharge(id).await;
    console.wait_for("#summary").await;
    for control in [
        "#actions",
        "form.action",
        "#action-undo",
        "#action-reveal",
        "textarea[name=reason]",
    ] {
        assert!(
            console.browser.find(control).await.is_none(),
            "support staff see {control}"
        );
    }

    // The session's own cookie and CSRF token, POSTed as an operator's form would be.
    let cookie = console.session_cookie().await;
    let csrf = console.csrf().await;
    let events_before = console.app.event_count().await;
    for action in ["undo", "confirm", "ask", "reveal"] {
        let (status, _, body) = console
            .post_form(
                &format!("/console/recharges/{id}/{action}"),
                &cookie,
                &action_form(&csrf, "forged"),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
        console.check_text(action, &body);
    }
    assert_eq!(
        console.app.event_count().await,
        events_before,
        "something was done"
    );
    assert_eq!(
        console.counter("console_forbidden_actions_total").await,
        4.0
    );
    assert_eq!(
        console.app.recharge(id).await["status"],
        "pending_confirmation"
    );
    assert_eq!(
        console
            .app
            .sandbox
            .transaction(nit)
            .unwrap()
            .confirmation_requests,
        0
    );
}

#[tokio::test]
async fn an_action_without_its_csrf_token_is_refused() {
    let console = Console::start().await;
    let sale = console.pending_top_up("912340013").await;
    let (id, nit) = (sale["id"].as_str().unwrap(), sale["nit"].as_str().unwrap());
    console.sign_in(TOKEN).await;
    console.open_recharge(id).await;
    let cookie = console.session_cookie().await;
    let csrf = console.csrf().await;
    let form_csrf = console
        .wait_for("#action-undo input[name=csrf]")
        .await
        .attribute("value")
        .await
        .expect("the action's CSRF token");
    assert_eq!(form_csrf, csrf, "one token per session");
    let path = format!("/console/recharges/{id}/undo");

    let without = [("reason", "no csrf"), ("go", "")];
    let (status, _, body) = console.post_form(&path, &cookie, &without).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("id=\"error\""), "{body}");
    let wrong = csrf.chars().rev().collect::<String>() + "x";
    let (status, _, body) = console
        .post_form(&path, &cookie, &action_form(&wrong, "wrong csrf"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Another session's token does not do either.
    let (status, _, _) = console
        .post_form(&path, "not-a-session", &action_form(&csrf, "no session"))
        .await;
    assert!(
        status == StatusCode::FORBIDDEN
            || status == StatusCode::UNAUTHORIZED
            || status.is_redirection(),
        "{status}"
    );
    assert_eq!(
        console.app.recharge(id).await["status"],
        "pending_confirmation"
    );
    assert_eq!(
        console
            .app
            .sandbox
            .transaction(nit)
            .unwrap()
            .confirmation_requests,
        0
    );

    // The same POST with the session's token is done: the refusals were the token's.
    let (status, location, body) = console
        .post_form(&path, &cookie, &action_form(&csrf, "with its csrf"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let location = location.expect("a Location");
    assert!(
        location.contains(&format!("/console/recharges/{id}")),
        "{location}"
    );
    assert_eq!(console.app.recharge(id).await["status"], "undone");
}
