//! Whole top-ups through the storefront API, as many workers at once as asked, for a while or
//! for a count: create, dealers, branch data, effectuate, confirm, and the recharge read back
//! (what a storefront shows its customer). Run by `bench/run` against a service with
//! the embedded sandbox; prints one JSON object. Each answer's `Server-Timing` says how long the
//! service waited on Carat and in all: the difference is the service's own time.
//!
//! `topups --base http://127.0.0.1:8080 --token T --workers 16 --seconds 10`
//! `topups --base http://127.0.0.1:8080 --token T --workers 1 --count 30` (exactly 30)

use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Args {
    base: String,
    token: String,
    workers: usize,
    seconds: f64,
    /// Exactly this many top-ups, however long they take (`--count`), instead of `seconds`.
    count: Option<usize>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        token: "local-dev-token".into(),
        workers: 16,
        seconds: 10.0,
        count: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--base" => args.base = value,
            "--token" => args.token = value,
            "--workers" => args.workers = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--seconds" => args.seconds = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--count" => args.count = Some(value.parse().map_err(|e| format!("{flag}: {e}"))?),
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

/// One top-up's times, in milliseconds: seen by the client, and the service's own sums of
/// `Server-Timing` over its five requests.
struct TopUp {
    client_ms: f64,
    total_ms: f64,
    carat_ms: f64,
    /// The service's own time in each request, in the order of [`REQUESTS`].
    own_ms: Vec<f64>,
}

/// A top-up's requests, as the report names them.
const REQUESTS: [&str; 6] = [
    "create",
    "dealers",
    "branches",
    "effectuate",
    "confirm",
    "get",
];

/// `Server-Timing`'s `carat` and `total`, in milliseconds.
fn server_timing(response: &reqwest::Response) -> Result<(f64, f64), String> {
    let header = response
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .ok_or("no Server-Timing header")?;
    let dur = |name: &str| {
        header
            .split(',')
            .map(str::trim)
            .find(|m| m.split(';').next() == Some(name))
            .and_then(|m| m.split(';').find_map(|p| p.strip_prefix("dur=")))
            .and_then(|d| d.parse::<f64>().ok())
            .ok_or(format!("no {name} in {header}"))
    };
    Ok((dur("carat")?, dur("total")?))
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// Sends, checks the status, and adds the answer's timings to `top_up`.
    async fn call(
        &self,
        top_up: &mut TopUp,
        request: reqwest::RequestBuilder,
        expect: u16,
    ) -> Result<Value, String> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        // Read first: an answer the service did not give (a refusal at admission) has no timing.
        let timing = server_timing(&response);
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if status != expect {
            return Err(format!("{status}: {body}"));
        }
        let (carat, total) = timing?;
        top_up.carat_ms += carat;
        top_up.total_ms += total;
        top_up.own_ms.push(total - carat);
        Ok(body)
    }

    async fn top_up(&self) -> Result<TopUp, String> {
        let started = Instant::now();
        let mut t = TopUp {
            client_ms: 0.0,
            total_ms: 0.0,
            carat_ms: 0.0,
            own_ms: Vec::with_capacity(REQUESTS.len()),
        };
        let url = |path: &str| format!("{}/api/v1/recharges{path}", self.base);
        let created = self
            .call(
                &mut t,
                self.http
                    .post(url(""))
                    .json(&json!({"recharge_type": "normal"})),
                201,
            )
            .await?;
        let id = created["id"].as_str().ok_or("no id")?.to_owned();
        self.call(&mut t, self.http.get(url(&format!("/{id}/dealers"))), 200)
            .await?;
        let branches = format!("/{id}/branches?dealer_code=001&ddd=11");
        self.call(&mut t, self.http.get(url(&branches)), 200)
            .await?;
        let effectuation = json!({
            "dealer": {"code": "001", "type_code": "03"},
            "phone": {"ddd": "11", "number": "987654321"},
            "amount": 1000,
            "amount_key": "1",
        });
        self.call(
            &mut t,
            self.http
                .post(url(&format!("/{id}/effectuate")))
                .json(&effectuation),
            200,
        )
        .await?;
        let confirmed = self
            .call(
                &mut t,
                self.http
                    .post(url(&format!("/{id}/confirm")))
                    .json(&json!({"confirm": true})),
                200,
            )
            .await?;
        if confirmed["status"] != "confirmed" {
            return Err(format!("not confirmed: {confirmed}"));
        }
        let shown = self
            .call(&mut t, self.http.get(url(&format!("/{id}"))), 200)
            .await?;
        if shown["status"] != "confirmed" || shown["events"].as_array().is_none_or(Vec::is_empty) {
            return Err(format!("not shown confirmed, with its events: {shown}"));
        }
        t.client_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(t)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    json!({
        "p50": percentile(&values, 50.0),
        "p99": percentile(&values, 99.0),
        "max": values.last().copied().unwrap_or(f64::NAN),
    })
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("topups: {e}");
            std::process::exit(2);
        }
    };
    // reqwest is built without a crypto provider; the tree's one is ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = std::sync::Arc::new(Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client"),
        base: args.base.trim_end_matches('/').to_owned(),
        token: args.token,
    });
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    // With `--count`, each worker takes a number until they are all taken.
    let left = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(
        args.count.unwrap_or(usize::MAX),
    ));
    let more = move || match args.count {
        Some(_) => left
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok(),
        None => Instant::now() < deadline,
    };
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.workers {
        let (client, more) = (client.clone(), more.clone());
        workers.spawn(async move {
            let (mut done, mut errors) = (Vec::new(), Vec::new());
            while more() {
                match client.top_up().await {
                    Ok(t) => done.push(t),
                    Err(e) => errors.push(e),
                }
            }
            (done, errors)
        });
    }
    let (mut done, mut errors) = (Vec::new(), Vec::new());
    for (d, e) in workers.join_all().await {
        done.extend(d);
        errors.extend(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let own: Vec<f64> = done.iter().map(|t| t.total_ms - t.carat_ms).collect();
    errors.truncate(5);
    let report = json!({
        "workers": args.workers,
        "seconds": elapsed,
        "top_ups": done.len(),
        "per_second": done.len() as f64 / elapsed,
        "client_ms": summary(done.iter().map(|t| t.client_ms).collect()),
        "server_total_ms": summary(done.iter().map(|t| t.total_ms).collect()),
        "carat_wait_ms": summary(done.iter().map(|t| t.carat_ms).collect()),
        "service_own_ms": summary(own),
        "service_own_ms_by_request": REQUESTS
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), summary(done.iter().map(|t| t.own_ms[i]).collect())))
            .collect::<serde_json::Map<_, _>>(),
        "errors": errors,
    });
    println!("{report}");
}
