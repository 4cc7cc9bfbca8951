//! bench/burst: a closed-loop HTTP/1.1 load generator that keeps each request's latency by its
//! status, which wrk cannot (its Lua sees no clock and no connection). `N` connections, each
//! sending the next request as soon as the last is answered, for `S` seconds; a client refused
//! with `Retry-After` waits that long first, as it is told, plus up to as long again of jitter
//! (a burst of clients, not a flood of retries nor a herd waking on the same tick). Prints one JSON object: per status class, the count and latency percentiles, and
//! how many refusals carried `Retry-After`. Standard library only: bench/run builds it with
//! `rustc -O`, no Cargo project.
//!
//! Every client connects first; once the service has accepted them all, they send together (a
//! burst of requests from clients with a connection open, as a storefront's pool keeps them).
//!
//! Usage: burst <host:port> <path> <bearer token> <connections> <seconds>

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// One answer: its status, its latency in microseconds, and whether it carried `Retry-After`.
type Sample = (u16, u64, bool);

/// What one exchange read: the status, `Retry-After` in seconds, whether the server closes.
type Answer = (u16, Option<u64>, bool);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: burst <host:port> <path> <bearer token> <connections> <seconds>");
        std::process::exit(2);
    }
    let (addr, path, token) = (args[1].clone(), args[2].clone(), args[3].clone());
    let connections: usize = args[4].parse().expect("connections");
    let seconds: u64 = args[5].parse().expect("seconds");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
    let (connected, go) = (
        Arc::new(Barrier::new(connections + 1)),
        Arc::new(Barrier::new(connections + 1)),
    );
    let workers: Vec<_> = (0..connections)
        .map(|i| {
            let (addr, request) = (addr.clone(), request.clone());
            let (connected, go) = (connected.clone(), go.clone());
            std::thread::spawn(move || {
                let stream = connect(&addr);
                connected.wait();
                go.wait();
                let until = Instant::now() + Duration::from_secs(seconds);
                run(stream, &addr, request.as_bytes(), until, i as u64)
            })
        })
        .collect();
    connected.wait();
    // Time for the service to accept every connection before the requests come.
    std::thread::sleep(Duration::from_millis(200));
    go.wait();
    let started = Instant::now();
    let samples: Vec<Sample> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a worker"))
        .collect();
    report(&samples, started.elapsed().as_secs_f64());
}

/// One connection's requests until `until`, reconnecting when the server closes it.
fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

fn run(first: TcpStream, addr: &str, request: &[u8], until: Instant, seed: u64) -> Vec<Sample> {
    let mut samples = Vec::new();
    // A linear congruential generator is jitter enough (std has no random numbers).
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut jitter = move |secs: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Duration::from_millis(secs * 1000 + (state >> 33) % (secs * 1000).max(1))
    };
    let mut stream = Some(first);
    while Instant::now() < until {
        let s = stream.get_or_insert_with(|| connect(addr));
        let sent = Instant::now();
        match exchange(s, request) {
            Some((status, retry_after, close)) => {
                let latency = sent.elapsed().as_micros() as u64;
                samples.push((status, latency, retry_after.is_some()));
                if close {
                    stream = None;
                }
                if let Some(secs) = retry_after {
                    let left = until.saturating_duration_since(Instant::now());
                    std::thread::sleep(jitter(secs).min(left));
                }
            }
            None => stream = None,
        }
    }
    samples
}

/// Sends `request` and reads one answer.
fn exchange(stream: &mut TcpStream, request: &[u8]) -> Option<Answer> {
    stream.write_all(request).ok()?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let length: usize = header("content-length:")?.parse().ok()?;
    let mut body = buf.len() - head_end;
    while body < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body += n;
    }
    let close = header("connection:").is_some_and(|v| v == "close");
    let retry_after = header("retry-after:").map(|v| v.parse().unwrap_or(1));
    Some((status, retry_after, close))
}

fn report(samples: &[Sample], seconds: f64) {
    let class = |pick: &dyn Fn(u16) -> bool| {
        let mut micros: Vec<u64> = samples.iter().filter(|s| pick(s.0)).map(|s| s.1).collect();
        micros.sort_unstable();
        let pct = |p: f64| match micros.len() {
            0 => 0.0,
            n => micros[((n as f64 * p / 100.0) as usize).min(n - 1)] as f64 / 1000.0,
        };
        format!(
            "{{\"count\":{},\"per_second\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"p999_ms\":{:.3},\"max_ms\":{:.3}}}",
            micros.len(),
            micros.len() as f64 / seconds,
            pct(50.0),
            pct(99.0),
            pct(99.9),
            pct(100.0)
        )
    };
    let refused_with_retry_after = samples.iter().filter(|s| s.0 == 503 && s.2).count();
    println!(
        "{{\"seconds\":{seconds:.3},\"admitted\":{},\"refused\":{},\"other\":{},\"refused_with_retry_after\":{refused_with_retry_after}}}",
        class(&|s| (200..300).contains(&s)),
        class(&|s| s == 503),
        samples
            .iter()
            .filter(|s| !(200..300).contains(&s.0) && s.0 != 503)
            .count()
    );
}
