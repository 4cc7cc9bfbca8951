//! `Server-Timing`: every storefront answer says how long it waited on Carat Portal and how
//! long it took in all, so the service's own share can be told apart (`bench/run` reads it).

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Options, TOKEN, effectuation, spawn_app_with};

/// The `carat` and `total` durations of an answer, in milliseconds.
fn timing(response: &reqwest::Response) -> (f64, f64) {
    let header = response
        .headers()
        .get("server-timing")
        .expect("a Server-Timing header")
        .to_str()
        .unwrap()
        .to_owned();
    let dur = |name: &str| -> f64 {
        header
            .split(',')
            .map(str::trim)
            .find(|metric| metric.split(';').next() == Some(name))
            .and_then(|metric| metric.split(';').find_map(|p| p.strip_prefix("dur=")))
            .unwrap_or_else(|| panic!("{name} in {header}"))
            .parse()
            .unwrap()
    };
    (dur("carat"), dur("total"))
}

#[tokio::test]
async fn answers_say_how_long_they_waited_on_carat_and_in_all() {
    // The sandbox's slow phone answers the effectuation this late, well inside the timeout.
    let delay = Duration::from_millis(400);
    let app = spawn_app_with(Options {
        slow_answer_delay: delay,
        ..Options::default()
    })
    .await;
    let created = app.create_recharge().await;
    let id = created["id"].as_str().unwrap();
    app.list_catalogue(id, "001", "11").await;

    // The effectuation runs in a task of its own (it outlives a hung-up storefront): its wait
    // still counts to the request.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/recharges/{id}/effectuate")))
        .bearer_auth(TOKEN)
        .json(&effectuation("999990004", 1000))
        .send()
        .await
        .unwrap();
    let (carat, total) = timing(&response);
    assert_eq!(response.status(), StatusCode::OK);
    let delay_ms = delay.as_secs_f64() * 1000.0;
    assert!(
        carat >= delay_ms,
        "carat {carat} ms < the sandbox's {delay_ms} ms"
    );
    assert!(total >= carat, "total {total} ms < carat {carat} ms");
    assert!(
        total - carat < delay_ms,
        "the service's own share ({} ms) is its own, not Carat's",
        total - carat
    );

    // A read answers from the database: no wait on Carat at all.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/recharges/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let (carat, total) = timing(&response);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(carat, 0.0);
    assert!(total > 0.0);
}
