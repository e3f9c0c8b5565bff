//! A fault-injecting HTTP proxy in front of the S3 server: some requests get S3's
//! `503 SlowDown`, some have their connection reset before they reach the server, and some
//! after (the server acted, the answer was lost, as when a load balancer drops a connection).
//! Draws are deterministic (a counter through a hash), so a failing run can be repeated.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Share of requests answered `503 SlowDown` without reaching the server.
    pub slow_down: f64,
    /// Share whose connection is closed before the request is forwarded.
    pub reset_before: f64,
    /// Share forwarded, then their connection closed instead of the answer.
    pub reset_after: f64,
}

#[derive(Debug, Default)]
pub struct Counts {
    pub forwarded: AtomicU64,
    pub slow_down: AtomicU64,
    pub reset_before: AtomicU64,
    pub reset_after: AtomicU64,
}

pub struct FaultProxy {
    pub url: String,
    pub counts: Arc<Counts>,
    faults: Arc<std::sync::Mutex<Faults>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// From now on, these faults.
    pub fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A uniform draw in [0, 1) for the `n`th request.
fn draw(n: u64) -> f64 {
    let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

const SLOW_DOWN: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>";

pub async fn start(upstream: &str, faults: Faults) -> FaultProxy {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let counts = Arc::new(Counts::default());
    let upstream: Arc<str> = Arc::from(upstream.trim_end_matches('/'));
    let client: Client<_, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let requests = Arc::new(AtomicU64::new(0));
    let faults = Arc::new(std::sync::Mutex::new(faults));
    let task = {
        let counts = counts.clone();
        let faults = faults.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (counts, upstream, client, requests, faults) = (
                    counts.clone(),
                    upstream.clone(),
                    client.clone(),
                    requests.clone(),
                    faults.clone(),
                );
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (counts, upstream, client) =
                            (counts.clone(), upstream.clone(), client.clone());
                        let n = requests.fetch_add(1, Ordering::Relaxed);
                        let faults = *faults.lock().unwrap_or_else(|p| p.into_inner());
                        async move { proxy(request, n, faults, &counts, &upstream, &client).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    };
    FaultProxy {
        url,
        counts,
        faults,
        task,
    }
}

/// The connection is closed by returning an error from the service.
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault proxy")
    }
}

impl std::error::Error for Reset {}

async fn proxy(
    request: Request<Incoming>,
    n: u64,
    faults: Faults,
    counts: &Counts,
    upstream: &str,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Reset> {
    let roll = draw(n);
    if roll < faults.slow_down {
        counts.slow_down.fetch_add(1, Ordering::Relaxed);
        let _ = request.into_body().collect().await;
        let mut response = Response::new(Full::new(Bytes::from_static(SLOW_DOWN.as_bytes())));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/xml"),
        );
        return Ok(response);
    }
    if roll < faults.slow_down + faults.reset_before {
        counts.reset_before.fetch_add(1, Ordering::Relaxed);
        return Err(Reset);
    }
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| Reset)?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut forward = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        forward = forward.header(name, value);
    }
    let forward = forward.body(Full::new(body)).map_err(|_| Reset)?;
    let answer = client.request(forward).await.map_err(|_| Reset)?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await.map_err(|_| Reset)?.to_bytes();
    if roll < faults.slow_down + faults.reset_before + faults.reset_after {
        counts.reset_after.fetch_add(1, Ordering::Relaxed);
        return Err(Reset);
    }
    counts.forwarded.fetch_add(1, Ordering::Relaxed);
    Ok(Response::from_parts(parts, Full::new(body)))
}
