//! Tools for `bench/run`, the load benchmark:
//!
//! - `load` writes N API keys straight into an embedded store (the server must not be running)
//!   with [`EmbeddedStore::bulk_import`]: large transactions, indexes built once at the end, and saves the encoded credentials of an evenly spaced sample of them
//!   for the load generator. Ten million keys load in minutes, not the hours 10 M HTTP calls take.
//! - `bare` is the baseline: a hyper server with no keyward in it that answers every request with
//!   the bytes keyward's `GET /_cluster/health` answers, so the ratio of the two shows what
//!   authentication and routing cost on top of the HTTP stack.
//!
//! - `propagation` measures how soon an invalidation acknowledged by one node is honoured by
//!   another node sharing its store: per trial, a key created on node A and cached on node B is
//!   invalidated on A, and B is asked again at once, until it refuses.
//!
//! - `rate` is an open-loop load generator: a fixed request rate over a fixed number of
//!   connections, each request timed from when it was due (not from when it was sent), so a
//!   stall shows in the percentiles instead of quietly lowering the load, as a closed loop like
//!   wrk's does. It compares latency at the same offered load with and without a component.
//!
//! None is part of keyward; they exist to measure it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keyward_core::SecretSource;
use keyward_core::api_key::{API_KEY_FORMAT_VERSION, ApiKeyType, Creator};
use keyward_core::credential::{ApiKeyId, ApiKeySecret, encode_api_key};
use keyward_core::hash::{HashAlgorithm, hash_secret};
use keyward_core::role::{RoleDescriptors, superuser_role};
use keyward_store::{ApiKeyRecord, EmbeddedStore};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::Value;

#[derive(Parser)]
#[command(about = "Load-benchmark tools for keyward (bench/run)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes API keys owned by `elastic` straight into a stopped server's data directory.
    Load {
        /// The data directory (`path.data`).
        #[arg(long)]
        data: PathBuf,
        /// How many keys to write.
        #[arg(long)]
        keys: u64,
        /// Hashing algorithm of the stored secrets (`ssha256`, `pbkdf2_1000`, `bcrypt4`, …).
        #[arg(long, default_value = "ssha256")]
        algorithm: String,
        /// Where to write the sampled credentials, one `encoded` value per line.
        #[arg(long)]
        credentials: PathBuf,
        /// How many credentials to sample, evenly spaced over the keys.
        #[arg(long, default_value_t = 10_000)]
        sample: u64,
        /// Keys per transaction.
        #[arg(long, default_value_t = 1_000_000)]
        batch: usize,
        /// Realistic variety for the query benchmark instead of identical `elastic` keys: 20
        /// owners in three realms, names with five shared prefixes, creation times spread over
        /// a year up to now, metadata with three keys (`team` has 1 000 values), a tenth expired,
        /// a twentieth invalidated.
        #[arg(long)]
        variety: bool,
    },
    /// Serves fixed bytes on every request: the HTTP stack with nothing behind it.
    Bare {
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// The response body (keyward's cluster health answer).
        #[arg(long)]
        body: String,
    },
    /// Times invalidation on one node → refusal on another, over many trials.
    Propagation {
        /// The node that creates and invalidates (`http://host:port`).
        #[arg(long)]
        writer: String,
        /// The node that authenticates.
        #[arg(long)]
        reader: String,
        /// `Authorization` header value of a user who may manage API keys.
        #[arg(long)]
        authorization: String,
        /// How many keys to invalidate.
        #[arg(long, default_value_t = 1000)]
        trials: usize,
    },
    /// Sends GET requests at a fixed rate; prints `requests seconds p50 p99 errors` (µs).
    Rate {
        /// `http://host:port/path`.
        #[arg(long)]
        url: String,
        /// Extra request headers, `Name: value`.
        #[arg(long = "header")]
        headers: Vec<String>,
        /// Connections, each sending its share of the rate.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Requests per second, all connections together.
        #[arg(long)]
        rate: u64,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

/// Key material from a seeded generator: fast, and as unpredictable as the benchmark needs.
struct BenchRandom(StdRng);

impl SecretSource for BenchRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Load {
            data,
            keys,
            algorithm,
            credentials,
            sample,
            batch,
            variety,
        } => load(data, keys, &algorithm, credentials, sample, batch, variety),
        Command::Bare { listen, body } => bare(listen, body),
        Command::Propagation {
            writer,
            reader,
            authorization,
            trials,
        } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(propagation(writer, reader, authorization, trials)),
        Command::Rate {
            url,
            headers,
            connections,
            rate,
            seconds,
        } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?
            .block_on(open_loop(url, headers, connections, rate, seconds)),
    }
}

/// Sends `request` and reads one response: whether it was a 200, and whether the server said it
/// closes the connection.
async fn exchange(
    stream: &mut tokio::net::TcpStream,
    request: &[u8],
    buffer: &mut [u8],
) -> anyhow::Result<(bool, bool)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await?;
    let mut filled = 0;
    let (head_end, length, ok, close) = loop {
        let read = stream.read(&mut buffer[filled..]).await?;
        anyhow::ensure!(read > 0, "the server closed the connection");
        filled += read;
        if let Some(at) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..at]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let close = head.lines().any(|line| line.trim() == "connection: close");
            break (at + 4, length, head.starts_with("http/1.1 200"), close);
        }
        anyhow::ensure!(filled < buffer.len(), "response headers too large");
    };
    while filled < head_end + length {
        let read = stream.read(&mut buffer[filled..]).await?;
        anyhow::ensure!(read > 0, "the server closed the connection");
        filled += read;
    }
    Ok((ok, close))
}

/// The open-loop run of `rate`.
async fn open_loop(
    url: String,
    headers: Vec<String>,
    connections: usize,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .context("the URL must start with http://")?;
    let (address, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\n");
    for header in &headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let request = std::sync::Arc::new(request.into_bytes());
    let connections = connections.max(1);
    let interval = std::time::Duration::from_secs_f64(connections as f64 / rate.max(1) as f64);
    let start = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
    let end = start + std::time::Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let request = std::sync::Arc::clone(&request);
        let address = address.to_owned();
        let offset = interval.mul_f64(index as f64 / connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let connect = || async {
                let stream = tokio::net::TcpStream::connect(&address).await?;
                stream.set_nodelay(true)?;
                anyhow::Ok(stream)
            };
            let mut stream = connect().await?;
            let mut buffer = vec![0u8; 64 * 1024];
            let mut due = start + offset;
            while due < end {
                tokio::time::sleep_until(due).await;
                // One response: headers, then Content-Length bytes of body. A connection the
                // server closed between requests (nginx ends one after `keepalive_requests`) is
                // opened again and the request sent once more; the wait counts in its latency.
                let mut attempts = 0;
                let (ok, close) = loop {
                    attempts += 1;
                    match exchange(&mut stream, &request, &mut buffer).await {
                        Ok(answer) => break answer,
                        Err(_) if attempts < 3 => stream = connect().await?,
                        Err(err) => return Err(err),
                    }
                };
                if close {
                    stream = connect().await?;
                }
                let took = tokio::time::Instant::now().saturating_duration_since(due);
                latencies.push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
                if !ok {
                    errors += 1;
                }
                due += interval;
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut some, failed) = task.await??;
        latencies.append(&mut some);
        errors += failed;
    }
    latencies.sort_unstable();
    let percentile = |p: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        let index = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index]
    };
    println!(
        "{} {:.3} {} {} {}",
        latencies.len(),
        seconds as f64,
        percentile(0.50),
        percentile(0.99),
        errors
    );
    Ok(())
}

fn load(
    data: PathBuf,
    keys: u64,
    algorithm: &str,
    credentials: PathBuf,
    sample: u64,
    batch: usize,
    variety: bool,
) -> anyhow::Result<()> {
    let algorithm = HashAlgorithm::from_name(algorithm).map_err(|err| anyhow::anyhow!("{err}"))?;
    let limited_by = Value::Object(
        RoleDescriptors(vec![("superuser".to_owned(), superuser_role())])
            .without_descriptions()
            .to_json(),
    )
    .to_string();
    let creator = Creator {
        principal: "elastic".to_owned(),
        full_name: None,
        email: None,
        metadata: serde_json::Map::new(),
        realm: "reserved".to_owned(),
        realm_type: "reserved".to_owned(),
    };
    let mut rng = BenchRandom(StdRng::from_os_rng());
    let every = (keys / sample.max(1)).max(1);
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&credentials)
            .with_context(|| format!("cannot write {}", credentials.display()))?,
    );
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    let started = Instant::now();
    // Records are made as the store takes them: nothing but the current batch's pages is held.
    let mut failed_write = None;
    let records = (0..keys).map_while(|n| {
        let id = ApiKeyId::generate(&mut rng);
        let secret = ApiKeySecret::generate(&mut rng);
        if n % every == 0
            && n / every < sample
            && let Err(err) = writeln!(out, "{}", encode_api_key(&id, &secret))
        {
            failed_write = Some(err);
            return None;
        }
        if n > 0 && n.is_multiple_of(1_000_000) {
            eprintln!(
                "generated {n} keys in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        let mut record = ApiKeyRecord {
            id: id.as_str().to_owned(),
            name: format!("bench-{n}"),
            key_type: ApiKeyType::Rest,
            // One key a millisecond, oldest first, as keys created over time are: listings walk
            // the store in creation order, and a store where every key has the same creation
            // time (ties ordered by random id) would make that walk a random one.
            creation: now.saturating_sub(i64::try_from(keys - n).unwrap_or(i64::MAX)),
            expiration: None,
            invalidated: false,
            invalidation: None,
            hash: hash_secret(algorithm, secret.expose().as_bytes(), &mut rng),
            role_descriptors: "{}".to_owned(),
            limited_by: limited_by.clone(),
            metadata: None,
            creator: creator.clone(),
            format_version: API_KEY_FORMAT_VERSION,
            certificate_identity: None,
            seq: 1,
        };
        if variety {
            vary(&mut record, n, keys, now);
        }
        Some(record)
    });
    let written = EmbeddedStore::bulk_import(&data, records, batch)?;
    if let Some(err) = failed_write {
        return Err(err).with_context(|| format!("cannot write {}", credentials.display()));
    }
    out.flush()?;
    eprintln!(
        "loaded {written} keys in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Gives key `n` of `keys` the variety of a real deployment (see `Load::variety`). Deterministic
/// in `n`, so the query benchmark knows what its queries match.
fn vary(record: &mut ApiKeyRecord, n: u64, keys: u64, now: i64) {
    const YEAR_MILLIS: i64 = 365 * 24 * 3_600_000;
    const PREFIXES: [&str; 5] = ["ci", "agent", "fleet", "service", "job"];
    let signed = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    // Evenly spread over the year up to now, the newest last: creation times are distinct.
    let age = YEAR_MILLIS / signed(keys.max(1)) * signed(keys - 1 - n);
    record.creation = now - age;
    record.name = format!("{}-{n}", PREFIXES[usize::try_from(n % 5).unwrap_or(0)]);
    let owner = n % 20;
    if owner != 0 {
        let (realm, realm_type) = match owner % 3 {
            0 => ("file", "file"),
            1 => ("native1", "native"),
            _ => ("ldap1", "ldap"),
        };
        record.creator.principal = format!("user-{owner}");
        record.creator.realm = realm.to_owned();
        record.creator.realm_type = realm_type.to_owned();
    }
    // A third expire: a thirty-day lifetime, so the older of them (a tenth of all keys) have.
    if n.is_multiple_of(3) {
        record.expiration = Some(record.creation + 30 * 24 * 3_600_000);
    }
    if n % 20 == 7 {
        record.invalidated = true;
        record.invalidation = Some(record.creation + 1_000);
    }
    let env = ["production", "staging", "development"][usize::try_from(n % 3).unwrap_or(0)];
    record.metadata = Some(
        serde_json::json!({"team": format!("team-{}", n % 1_000), "env": env, "tier": n % 5})
            .to_string(),
    );
}

fn bare(listen: SocketAddr, body: String) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("bare listening on http://{}", listener.local_addr()?);
        let body = Bytes::from(body);
        loop {
            let (stream, _) = listener.accept().await?;
            let body = body.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_request| {
                    let body = body.clone();
                    async move {
                        hyper::Response::builder()
                            .header("content-type", "application/json")
                            .header("x-elastic-product", "Elasticsearch")
                            .body(Full::new(body))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// One request's status, failing on anything but an answer.
async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
    let response = request.send().await.context("request failed")?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn propagation(
    writer: String,
    reader: String,
    authorization: String,
    trials: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().build()?;
    let authenticate = |encoded: &str| {
        client
            .get(format!("{reader}/_security/_authenticate"))
            .header("Authorization", format!("ApiKey {encoded}"))
    };
    let mut micros = Vec::with_capacity(trials);
    // Trials whose first request after the acknowledgement was still let in.
    let mut stale = 0usize;
    for trial in 0..trials {
        let (status, created) = send(
            client
                .post(format!("{writer}/_security/api_key"))
                .header("Authorization", &authorization)
                .json(&serde_json::json!({"name": format!("propagation-{trial}")})),
        )
        .await?;
        anyhow::ensure!(status == 200, "create answered {status}: {created}");
        let id = created["id"].as_str().context("no id")?.to_owned();
        let encoded = created["encoded"]
            .as_str()
            .context("no encoded")?
            .to_owned();
        for _ in 0..2 {
            let (status, body) = send(authenticate(&encoded)).await?;
            anyhow::ensure!(
                status == 200,
                "the reader refused a new key: {status} {body}"
            );
        }
        let (status, body) = send(
            client
                .delete(format!("{writer}/_security/api_key"))
                .header("Authorization", &authorization)
                .json(&serde_json::json!({"ids": [id]})),
        )
        .await?;
        anyhow::ensure!(status == 200, "invalidate answered {status}: {body}");
        let acknowledged = Instant::now();
        let mut first = true;
        loop {
            let (status, _) = send(authenticate(&encoded)).await?;
            if status == 401 {
                break;
            }
            if first {
                stale += 1;
                first = false;
            }
            anyhow::ensure!(
                acknowledged.elapsed() < std::time::Duration::from_secs(10),
                "the reader still accepts an invalidated key after 10 s"
            );
        }
        micros.push(acknowledged.elapsed().as_micros());
    }
    micros.sort_unstable();
    let at = |share: f64| {
        let index = ((micros.len() as f64 - 1.0) * share).round() as usize;
        micros.get(index).copied().unwrap_or(0)
    };
    println!(
        "RESULT {} {} {} {} {stale}",
        micros.len(),
        at(0.5),
        at(0.99),
        micros.last().copied().unwrap_or(0)
    );
    Ok(())
}
