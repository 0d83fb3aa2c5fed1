//! Helpers shared by the end-to-end test files (kafka.rs, cluster.rs): the CLI, producing
//! sealed records, draining a consumer and what it made of each record.
#![allow(dead_code)] // each test file uses its own subset

pub mod raw;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::Message;
use rewrap::engine::{Error, Opened, Vouch};
use rewrap::{Decryptor, Encryptor};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these through `make test-kafka`, which starts a broker")
    })
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `rewrap` CLI built with the workspace (REWRAP_CLI_BIN overrides), run in `dir`.
pub fn cli(dir: &Path, args: &[&str]) -> String {
    let bin = std::env::var("REWRAP_CLI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target/debug/rewrap"));
    let out = Command::new(&bin)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (build the workspace first)", bin.display()));
    assert!(
        out.status.success(),
        "rewrap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `rewrap grant` arguments for the CLI run in a directory holding admin.sec and channel.sec:
/// `who` granted `topic` for the public key file `key`.
pub fn grant_args<'a>(topic: &'a str, who: &'a str, key: &'a str) -> [&'a str; 11] {
    [
        "grant",
        "--admin",
        "admin.sec",
        "--delegating",
        "channel.sec",
        "--topic",
        topic,
        "--consumer",
        who,
        "--consumer-key",
        key,
    ]
}

pub fn rand_suffix() -> u32 {
    let mut b = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rewrap::rng(), &mut b);
    u32::from_le_bytes(b)
}

pub fn produce(p: &BaseProducer, topic: &str, key: &str, value: &[u8], with: &[(&str, &[u8])]) {
    let mut headers = OwnedHeaders::new();
    for &(name, value) in with {
        headers = headers.insert(Header {
            key: name,
            value: Some(value),
        });
    }
    let mut record = BaseRecord::to(topic)
        .key(key)
        .payload(value)
        .headers(headers);
    loop {
        match p.send(record) {
            Ok(()) => break,
            Err((e, r)) => {
                assert!(
                    matches!(
                        e.rdkafka_error_code(),
                        Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                    ),
                    "produce failed: {e}"
                );
                record = r;
                p.poll(Duration::from_millis(10));
            }
        }
    }
    p.poll(Duration::ZERO);
}

pub fn seal_and_produce(p: &BaseProducer, enc: &Encryptor, topic: &str, key: &str, payload: &[u8]) {
    let sealed = enc.seal(topic, Some(key.as_bytes()), payload).unwrap();
    produce(p, topic, key, &sealed.value, &sealed.headers());
}

pub fn flush(p: &BaseProducer) {
    p.flush(Duration::from_secs(30)).expect("flush");
}

/// What a consumer made of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Opened(Vec<u8>),
    Refused(Error),
}

pub fn headers<'a>(m: &'a BorrowedMessage<'_>) -> Vec<(&'a str, &'a [u8])> {
    let mut headers = Vec::new();
    if let Some(h) = m.headers() {
        for header in h.iter() {
            headers.push((header.key, header.value.unwrap_or_default()));
        }
    }
    headers
}

pub fn open(dec: &Decryptor, m: &BorrowedMessage<'_>) -> Read {
    open_vouched(dec, m).map_or_else(Read::Refused, |(p, _)| Read::Opened(p))
}

/// The payload and who vouched for it.
pub fn open_vouched(dec: &Decryptor, m: &BorrowedMessage<'_>) -> Result<(Vec<u8>, Vouch), Error> {
    match dec.open(m.topic(), m.key(), m.payload(), &headers(m))? {
        Opened::Decrypted(d) => Ok((d.payload, d.vouch)),
        other => panic!("unexpected {other:?}"),
    }
}

/// Polls until `want` records arrived (then a short quiet period to catch extras) or `deadline`.
pub fn drain(
    c: &BaseConsumer,
    dec: &Decryptor,
    want: usize,
    deadline: Duration,
) -> Vec<(String, i64, String, Read)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut quiet_since: Option<Instant> = None;
    while start.elapsed() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
                got.push((m.topic().to_string(), m.offset(), key, open(dec, &m)));
                c.commit_message(&m, CommitMode::Async).ok();
                quiet_since = None;
            }
            Some(Err(e)) => eprintln!("consumer error (retried by the client): {e}"),
            None => {
                if got.len() >= want {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_secs(2) {
                        break;
                    }
                }
            }
        }
    }
    got
}

pub fn opened_payloads(got: &[(String, i64, String, Read)]) -> BTreeSet<Vec<u8>> {
    got.iter()
        .filter_map(|(_, _, _, r)| match r {
            Read::Opened(p) => Some(p.clone()),
            Read::Refused(_) => None,
        })
        .collect()
}

pub fn refusals(got: &[(String, i64, String, Read)]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (_, _, _, r) in got {
        if let Read::Refused(e) = r {
            *out.entry(format!("{e:?}")).or_insert(0) += 1;
        }
    }
    out
}

/// Runs a script of tests/kafka/ (the proxy binary of this build, a 100 ms reload) with
/// `env`, and returns its standard output.
/// The proxy binary the scripts start: this build's, or REWRAP_TEST_PROXY_BIN (to run an attack
/// test against another build and watch it fail).
pub fn proxy_bin() -> String {
    std::env::var("REWRAP_TEST_PROXY_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_rewrap-proxy").to_owned())
}

pub fn script_with(name: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("bash")
        .arg(repo().join("tests/kafka").join(name))
        .args(args)
        .envs(env.iter().copied())
        .env("REWRAP_PROXY_BIN", proxy_bin())
        .env("REWRAP_PROXY_RELOAD_MS", "100")
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The Prometheus metrics text of the proxy started in `dir` (by `tests/kafka/proxy.sh`, which
/// writes its ports there).
pub fn metrics(dir: &Path) -> String {
    use std::io::{Read as _, Write as _};
    let ports = std::fs::read_to_string(dir.join("ports")).unwrap();
    let port = ports.split_whitespace().nth(1).unwrap();
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// The sum of every sample of the counter `metric` (all label sets; 0 before its first
/// increment) in the metrics `text`.
pub fn counter(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(metric) && matches!(l.as_bytes().get(metric.len()), Some(b'{' | b' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
