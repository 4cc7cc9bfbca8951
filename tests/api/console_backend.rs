//! The console's sessions and reads (`carat_core::console`) against real PostgreSQL, on
//! recharges made through the storefront API: a session lives by its cookie until it idles
//! out or is closed, and only the cookie's hash is kept; search finds a recharge by any of its
//! names; the queues and the overview count what needs a look.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carat_core::console::{Desk, ListKey, Queue, QueueCounts, Search, Sessions};
use carat_domain::{ConsoleRole, RechargeStatus, RechargeType};
use chrono::Utc;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::{TestApp, every_row, spawn_app};
use crate::operator_actions::{as_if_its_answer_was_lost, effectuated};

async fn session_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM console_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_lives_by_its_cookie_until_it_idles_out_or_is_closed() {
    let app = spawn_app().await;
    let sessions = Sessions::new(app.pool.clone(), Duration::from_millis(1500));
    let token_id = carat_domain::token_id("console-operator-token");

    let opened = sessions
        .open(ConsoleRole::Operator, &token_id)
        .await
        .unwrap();
    let cookie = URL_SAFE_NO_PAD.decode(&opened.cookie_value).unwrap();
    assert_eq!(cookie.len(), 32);
    let found = sessions.find(&opened.cookie_value).await.unwrap().unwrap();
    assert_eq!(found.role, ConsoleRole::Operator);
    assert_eq!(found.token_id, token_id);
    assert_eq!(found.csrf, opened.csrf);
    assert_eq!(found.actor().to_string(), format!("operator:{token_id}"));

    // Only the cookie's hash is kept; neither it nor the CSRF token is anywhere.
    let kept: Vec<u8> = sqlx::query_scalar("SELECT id_hash FROM console_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        kept,
        Sha256::digest(opened.cookie_value.as_bytes()).to_vec()
    );
    let rows = every_row(&app.pool).await.join("\n");
    assert!(!rows.contains(&opened.cookie_value) && !rows.contains(&opened.csrf));

    // Used within the idle time, it lives on: each use counts.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(sessions.find(&opened.cookie_value).await.unwrap().is_some());
    }
    // Idle longer: gone, and deleted.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(sessions.find(&opened.cookie_value).await.unwrap().is_none());
    assert_eq!(session_rows(&app).await, 0);

    // Closed: gone at once.
    let support = sessions
        .open(ConsoleRole::Support, &token_id)
        .await
        .unwrap();
    let found = sessions.find(&support.cookie_value).await.unwrap().unwrap();
    assert_eq!(found.role, ConsoleRole::Support);
    sessions.close(&support.cookie_value).await.unwrap();
    assert!(
        sessions
            .find(&support.cookie_value)
            .await
            .unwrap()
            .is_none()
    );

    // What names no session finds none.
    let guess = URL_SAFE_NO_PAD.encode([9u8; 32]);
    for value in ["", "not-a-cookie", guess.as_str()] {
        assert!(sessions.find(value).await.unwrap().is_none(), "{value}");
        sessions.close(value).await.unwrap();
    }
    // A sign-in sweeps the sessions idle too long.
    let stale = sessions
        .open(ConsoleRole::Operator, &token_id)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1800)).await;
    sessions
        .open(ConsoleRole::Operator, &token_id)
        .await
        .unwrap();
    assert_eq!(session_rows(&app).await, 1);
    assert!(sessions.find(&stale.cookie_value).await.unwrap().is_none());
    assert!(
        sessions
            .open(ConsoleRole::Operator, "not-a-token-id")
            .await
            .is_err()
    );
}

fn by_text(text: &str) -> Search {
    Search {
        text: Some(text.to_owned()),
        ..Search::default()
    }
}

async fn ids(desk: &Desk, search: &Search) -> Vec<Uuid> {
    let found = desk.search(search, None, 50).await.unwrap();
    found.into_iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn search_finds_a_recharge_by_any_of_its_names() {
    let app = spawn_app().await;
    let desk = Desk::new(app.pool.clone(), Duration::from_secs(300));
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    let (status, body) = app.effectuate(id, "912345678", 1000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (other, _) = effectuated(&app).await;
    let target: Uuid = id.parse().unwrap();
    let recharge = app.recharge(id).await;
    let esitef_usn = recharge["esitef_usn"].as_str().expect("Carat's USN");

    for text in [
        recharge["order_id"].as_str().unwrap(),
        recharge["nit"].as_str().unwrap(),
        id,
        &id.to_uppercase(),
        recharge["merchant_usn"].as_str().unwrap(),
        esitef_usn,
        "912345678",
        "11912345678",
        "(11) 91234-5678",
        "+55 11 91234-5678",
    ] {
        assert_eq!(ids(&desk, &by_text(text)).await, [target], "{text}");
        assert_eq!(ids(&desk, &by_text(&format!("  {text} "))).await, [target]);
    }
    for nothing in [
        "21912345678",
        "12345678",
        "NOSUCHORDER",
        &Uuid::new_v4().to_string(),
    ] {
        assert!(ids(&desk, &by_text(nothing)).await.is_empty(), "{nothing}");
    }

    // The filters, and paging newest first.
    let all = Search::default();
    assert_eq!(ids(&desk, &all).await, [other, target]);
    let pending = Search {
        statuses: vec![RechargeStatus::PendingConfirmation],
        kinds: vec![RechargeType::Normal],
        ..Search::default()
    };
    assert_eq!(ids(&desk, &pending).await.len(), 2);
    let pins = Search {
        kinds: vec![RechargeType::Others],
        ..Search::default()
    };
    assert!(ids(&desk, &pins).await.is_empty());
    let in_doubt = Search {
        in_doubt: true,
        ..Search::default()
    };
    assert!(ids(&desk, &in_doubt).await.is_empty());
    let later = Search {
        created_from: Some(Utc::now() + chrono::Duration::minutes(1)),
        ..Search::default()
    };
    assert!(ids(&desk, &later).await.is_empty());

    let first = desk.search(&all, None, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, other);
    let after = ListKey {
        created_at: first[0].created_at,
        id: first[0].id,
    };
    let second = desk.search(&all, Some(after), 1).await.unwrap();
    assert_eq!(second.iter().map(|r| r.id).collect::<Vec<_>>(), [target]);
}

#[tokio::test]
async fn the_queues_and_the_overview_count_what_needs_a_look() {
    let app = spawn_app().await;
    let desk = Desk::new(app.pool.clone(), Duration::from_secs(300));
    let held = one_recharge_in_each_queue(&app).await;
    refused_callback_and_cards_of_unknown_storage(&app).await;

    let overview = desk.overview(Utc::now()).await.unwrap();
    assert_eq!(
        overview.queues,
        QueueCounts {
            in_doubt: 1,
            overdue_confirmation: 1,
            awaiting_choice: 1,
            callbacks: 1,
            cards_unknown: 2,
        }
    );
    let today: i64 = overview.today.iter().map(|(_, _, n)| n).sum();
    assert_eq!(today, 4, "{:?}", overview.today);
    assert!(
        overview
            .today
            .contains(&(RechargeType::Normal, RechargeStatus::Confirmed, 1))
    );
    assert_eq!(overview.hourly.len(), 24);
    assert!(overview.hourly.windows(2).all(|w| w[0].start < w[1].start));
    let (confirmed, open): (i64, i64) = overview
        .hourly
        .iter()
        .fold((0, 0), |(c, o), b| (c + b.confirmed, o + b.open));
    assert_eq!((confirmed, open), (1, 3));

    for (queue, expected) in held {
        let listed = desk.queue(queue, None, 50).await.unwrap();
        let listed: Vec<Uuid> = listed.into_iter().map(|r| r.id).collect();
        assert_eq!(listed, [expected], "{queue:?}");
    }
    let callbacks = desk.refused_callbacks(None, 50).await.unwrap();
    assert_eq!(callbacks.len(), 1);
    let cards = desk.unknown_cards(None, 50).await.unwrap();
    assert_eq!(cards.len(), 2);
    assert!(
        cards
            .iter()
            .all(|c| c.created_at < Utc::now() - chrono::Duration::minutes(5))
    );

    let health = desk.health().await;
    assert!(health.reachable);
    assert!(health.latency_ms.is_some());
}

/// A recharge in doubt, one pending confirmation past its deadline, one awaiting a TV
/// package, and one confirmed (in no queue): each queue with the recharge it must hold.
async fn one_recharge_in_each_queue(app: &TestApp) -> [(Queue, Uuid); 3] {
    let (in_doubt, _) = effectuated(app).await;
    as_if_its_answer_was_lost(app, in_doubt, "effectuating").await;
    let (overdue, _) = effectuated(app).await;
    sqlx::query("UPDATE recharges SET effectuated_at = now() - interval '1 hour' WHERE id = $1")
        .bind(overdue)
        .execute(&app.pool)
        .await
        .unwrap();
    let (choosing, _) = effectuated(app).await;
    sqlx::query("UPDATE recharges SET status = 'awaiting_choice' WHERE id = $1")
        .bind(choosing)
        .execute(&app.pool)
        .await
        .unwrap();
    let (fresh, _) = effectuated(app).await;
    let (status, _) = app.confirm(&fresh.to_string(), true).await;
    assert_eq!(status, StatusCode::OK);
    [
        (Queue::InDoubt, in_doubt),
        (Queue::OverdueConfirmation, overdue),
        (Queue::AwaitingChoice, choosing),
    ]
}

/// A callback refused, and cards whose storage outcome is not known: two for ten minutes
/// (in the queue), two just now (not yet).
async fn refused_callback_and_cards_of_unknown_storage(app: &TestApp) {
    let (status, _) = app.post_authenticity("not=a&valid=post").await;
    assert!(status.is_client_error(), "{status}");
    for (status, age) in [
        ("unknown", 10),
        ("pending", 10),
        ("pending", 0),
        ("unknown", 0),
    ] {
        sqlx::query(
            "INSERT INTO cards (id, customer_id, authorizer_id, status, created_at, updated_at) \
             VALUES ($1, 'CUSTOMER1', '2', $2, now() - $3 * interval '1 minute', \
                     now() - $3 * interval '1 minute')",
        )
        .bind(Uuid::new_v4())
        .bind(status)
        .bind(f64::from(age))
        .execute(&app.pool)
        .await
        .unwrap();
    }
}
