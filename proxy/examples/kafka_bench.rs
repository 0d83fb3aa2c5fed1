//! The Kafka end-to-end benchmark driver (run by benches/kafka/run.sh, which starts the broker
//! and both proxies): 1 KiB records produced straight to the broker, then consumed four ways,
//! all in one run so the ratios compare like with like:
//!   (a) plaintext, direct to the broker;
//!   (b) rewrap-sealed, direct, the consumer attaching cfrags in-process (cached) and opening;
//!   (c) rewrap-sealed through the rewrap proxy, the consumer opening;
//!   (d) rewrap-sealed through Shotover without the transform (nothing to open).
//! (c0) is (c) without opening, so c0/d is the transform's own cost.
//! `--payload json` sends ~1 KiB JSON events (benches/json_events.rs) instead of random bytes,
//! and `--inner lz4|zstd` compresses them inside the envelope before sealing.

#[path = "../../benches/json_events.rs"]
mod json_events;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rewrap::engine::{
    GrantTerms, Opened, ProducerGrant, SecretKey, Signer, SigningMode, CFRAG_HEADER, EDEK_HEADER,
};
use rewrap::{Decryptor, DirGrantStore, Encryptor, Grant, ReEncryptor};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    broker: String,
    proxy: String,
    passthrough: String,
    proxy_dir: PathBuf,
    passthrough_dir: PathBuf,
    data: PathBuf,
    store: PathBuf,
    admin: PathBuf,
    records: usize,
    rounds: usize,
    compression: String,
    /// Payload bytes per record (random payloads).
    size: usize,
    /// `random` (incompressible, `size` bytes) or `json` (~1 KiB events).
    payload: String,
    /// Compression inside the envelope: `none`, `lz4` or `zstd`.
    inner: String,
    /// `--fill TOPIC`: only produce the sealed records into TOPIC, granted to the bench's
    /// consumer name (for Kafka's own perf-test tools, benches/kafka/perf_test.sh).
    fill: Option<String>,
}

/// The payload size, for the check that every opened record has it (`None`: JSON events,
/// which must open to a JSON object).
static SIZE: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();

fn args() -> Args {
    let mut map = std::collections::HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        map.insert(k.trim_start_matches("--").to_string(), v);
    }
    let fill = map.get("fill").cloned();
    let get = |k: &str| match map.get(k) {
        Some(v) => v.clone(),
        None if fill.is_some() => String::new(),
        None => panic!("missing --{k}"),
    };
    Args {
        broker: get("broker"),
        proxy: get("proxy"),
        passthrough: get("passthrough"),
        proxy_dir: get("proxy-dir").into(),
        passthrough_dir: get("passthrough-dir").into(),
        data: get("data").into(),
        store: get("store").into(),
        admin: get("admin").into(),
        records: get("records").parse().unwrap(),
        compression: get("compression"),
        size: map.get("size").map_or(1024, |s| s.parse().unwrap()),
        payload: map
            .get("payload")
            .cloned()
            .unwrap_or_else(|| "random".into()),
        inner: map.get("inner").cloned().unwrap_or_else(|| "none".into()),
        rounds: map.get("rounds").map_or(1, |s| s.parse().unwrap()),
        fill,
    }
}

fn producer(a: &Args) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", &a.broker)
        .set("compression.type", &a.compression)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "500000")
        .create()
        .unwrap()
}

fn send(p: &BaseProducer, mut record: BaseRecord<'_, [u8], [u8]>) {
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((_, r)) => {
                record = r;
                p.poll(Duration::from_millis(1));
            }
        }
    }
}

fn payloads(n: usize, size: usize) -> Vec<Vec<u8>> {
    // Incompressible payloads, so codec results show the header overhead, not the data.
    let mut rng = rewrap::rng();
    (0..n)
        .map(|_| {
            let mut v = vec![0u8; size];
            rand_core::RngCore::fill_bytes(&mut rng, &mut v);
            v
        })
        .collect()
}

/// Produces `payloads` to `topic`, sealed when `enc` is given; returns records per second.
fn produce(a: &Args, topic: &str, payloads: &[Vec<u8>], enc: Option<&Encryptor>) -> f64 {
    let p = producer(a);
    let start = Instant::now();
    for (i, payload) in payloads.iter().enumerate() {
        let key = i.to_be_bytes();
        match enc {
            Some(enc) => {
                let sealed = enc.seal(topic, Some(&key[..]), payload).unwrap();
                let mut headers = OwnedHeaders::new();
                for (name, value) in sealed.headers() {
                    headers = headers.insert(Header {
                        key: name,
                        value: Some(value),
                    });
                }
                send(
                    &p,
                    BaseRecord::to(topic)
                        .key(&key[..])
                        .payload(&sealed.value[..])
                        .headers(headers),
                );
            }
            None => send(
                &p,
                BaseRecord::to(topic).key(&key[..]).payload(&payload[..]),
            ),
        }
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(120)).unwrap();
    payloads.len() as f64 / start.elapsed().as_secs_f64()
}

enum Open<'a> {
    /// Count the records only.
    Nothing,
    /// Open with the cfrags the proxy attached.
    Proxy(&'a Decryptor),
    /// Attach cfrags in-process, then open.
    InProcess(&'a Decryptor, &'a ReEncryptor, &'a str),
}

/// Reads `n` records of `topic` from the beginning; returns records per second.
fn consume(bootstrap: &str, client_id: &str, topic: &str, n: usize, open: &Open<'_>) -> f64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        .set("group.id", "bench")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let start = Instant::now();
    let mut got = 0;
    let mut checksum = 0u64;
    while got < n {
        let Some(m) = c.poll(Duration::from_secs(30)) else {
            panic!("{topic} via {bootstrap}: stalled after {got} records");
        };
        let m = m.unwrap();
        let value = m.payload().unwrap_or_default();
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(2);
        if let Some(h) = m.headers() {
            for header in h.iter() {
                headers.push((header.key, header.value.unwrap_or_default()));
            }
        }
        checksum = checksum.wrapping_add(match open {
            Open::Nothing => value.len() as u64,
            Open::Proxy(dec) => plaintext_len(dec.open(topic, m.key(), Some(value), &headers)),
            Open::InProcess(dec, re, consumer) => {
                let edek = headers.iter().find(|h| h.0 == EDEK_HEADER).unwrap().1;
                let cfrags = re.reencrypt(topic, edek, consumer).unwrap();
                for cfrag in cfrags.iter() {
                    headers.push((CFRAG_HEADER, cfrag));
                }
                plaintext_len(dec.open(topic, m.key(), Some(value), &headers))
            }
        });
        got += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    assert!(checksum >= n as u64, "every record counted");
    rate
}

fn plaintext_len(r: rewrap::engine::Result<Opened>) -> u64 {
    match r {
        Ok(Opened::Decrypted(d)) => {
            match SIZE.get() {
                Some(Some(size)) => assert_eq!(d.payload.len(), *size),
                _ => assert!(d.payload.starts_with(b"{") && d.payload.ends_with(b"}")),
            }
            d.payload.len() as u64
        }
        other => panic!("record did not open: {other:?}"),
    }
}

fn proxy_pid(dir: &Path) -> String {
    let pid = std::fs::read_to_string(dir.join("proxy.pid")).unwrap();
    pid.trim().to_string()
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_secs(dir: &Path) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", proxy_pid(dir))).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

/// Bytes a process has written with write/send calls (its sockets included), from /proc.
fn written(dir: &Path) -> f64 {
    let io = std::fs::read_to_string(format!("/proc/{}/io", proxy_pid(dir))).unwrap();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .unwrap()
        .parse()
        .unwrap()
}

fn metric(dir: &Path, name: &str) -> f64 {
    let ports = std::fs::read_to_string(dir.join("ports")).unwrap();
    let port = ports.split_whitespace().nth(1).unwrap();
    // A bare HTTP/1.0 GET: the server closes the connection after the body.
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

fn bytes_on_disk(data: &Path, topic: &str) -> u64 {
    let dir = data.join(format!("{topic}-0"));
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

/// Proxy CPU per MB/s of payload fetched, in mCPU: CPU seconds per MB × 1000.
fn mcpu_per_mb_s(cpu: &[f64], n: usize, size: usize) -> f64 {
    median(cpu.to_vec()) / (n * size) as f64 * 1e6 * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let a = args();
    let admin = Signer::new(rewrap::keyfile::read_secret(&a.admin).unwrap());
    let admins = [admin.verifying_key()];
    let channel = SecretKey::generate();
    let tag = format!("{:x}", rewrap::now());
    let plain_topic = format!("bench-plain-{}-{tag}", a.compression);
    let sealed_topic = a
        .fill
        .clone()
        .unwrap_or_else(|| format!("bench-sealed-{}-{tag}", a.compression));
    let consumer = "bench-consumer";
    let consumer_key = SecretKey::generate();
    let consumer_pub = consumer_key.public_key();
    let terms = GrantTerms::one_of_one(&sealed_topic, consumer, consumer_pub, 0);
    let grant = Grant::issue(&mut rewrap::rng(), &admin, &channel, &terms).unwrap();
    let store = DirGrantStore::open(&a.store).unwrap();
    store.put(&grant).unwrap();
    // The producer signs its sessions, as the proxy's default policy requires.
    let signing = SecretKey::generate();
    let producer_grant = ProducerGrant::issue(
        &mut rewrap::rng(),
        &admin,
        &sealed_topic,
        &signing.public_key(),
        0,
        None,
    )
    .unwrap();
    store.put_producer(&producer_grant).unwrap();
    let in_process = ReEncryptor::new(&admins).unwrap();
    in_process.add_grant(&grant).unwrap();
    std::thread::sleep(Duration::from_millis(800)); // the proxy reloads its store

    let data = match a.payload.as_str() {
        "json" => json_events::json_events(a.records),
        "random" => payloads(a.records, a.size),
        other => panic!("--payload {other}: random or json"),
    };
    SIZE.set((a.payload == "random").then_some(a.size)).unwrap();
    // Mean payload bytes, for the sizing rule.
    let size = data.iter().map(Vec::len).sum::<usize>() / data.len().max(1);
    let enc = Encryptor::new(channel.public_key()).unwrap();
    enc.set_compression(rewrap::engine::Compression::from_name(&a.inner, 0).unwrap())
        .unwrap();
    enc.set_signer(Some((&signing, SigningMode::Session)));
    if a.fill.is_some() {
        let rate = produce(&a, &sealed_topic, &data, Some(&enc));
        println!("{sealed_topic}: {} sealed records ({rate:.0}/s)", a.records);
        return;
    }
    let produce_plain = produce(&a, &plain_topic, &data, None);
    let produce_sealed = produce(&a, &sealed_topic, &data, Some(&enc));
    std::thread::sleep(Duration::from_secs(2)); // segments flushed to the page cache
    let disk_plain = bytes_on_disk(&a.data, &plain_topic) as f64 / a.records as f64;
    let disk_sealed = bytes_on_disk(&a.data, &sealed_topic) as f64 / a.records as f64;

    let dec = Decryptor::new(consumer_key, &admins).unwrap();
    dec.add_producer_grant(&producer_grant).unwrap();
    let n = a.records;
    let (mut ra, mut rb, mut rc, mut rc0, mut rd) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut cpu_c0, mut cpu_d) = (vec![], vec![]);
    let (mut out_c0, mut out_d) = (vec![], vec![]);
    for _ in 0..a.rounds {
        ra.push(consume(
            &a.broker,
            consumer,
            &plain_topic,
            n,
            &Open::Nothing,
        ));
        rb.push(consume(
            &a.broker,
            consumer,
            &sealed_topic,
            n,
            &Open::InProcess(&dec, &in_process, consumer),
        ));
        rc.push(consume(
            &a.proxy,
            consumer,
            &sealed_topic,
            n,
            &Open::Proxy(&dec),
        ));
        let before = cpu_secs(&a.proxy_dir);
        let wrote = written(&a.proxy_dir);
        rc0.push(consume(
            &a.proxy,
            consumer,
            &sealed_topic,
            n,
            &Open::Nothing,
        ));
        cpu_c0.push(cpu_secs(&a.proxy_dir) - before);
        out_c0.push(written(&a.proxy_dir) - wrote);
        let before = cpu_secs(&a.passthrough_dir);
        let wrote = written(&a.passthrough_dir);
        rd.push(consume(
            &a.passthrough,
            consumer,
            &sealed_topic,
            n,
            &Open::Nothing,
        ));
        cpu_d.push(cpu_secs(&a.passthrough_dir) - before);
        out_d.push(written(&a.passthrough_dir) - wrote);
    }
    let (a_, b, c, c0, d) = (median(ra), median(rb), median(rc), median(rc0), median(rd));
    let hits = metric(&a.proxy_dir, "rewrap_cache_hits");
    let misses = metric(&a.proxy_dir, "rewrap_cache_misses");
    let annotated = metric(&a.proxy_dir, "rewrap_records_annotated");
    let us = |cpu: &[f64]| median(cpu.to_vec()) / n as f64 * 1e6;
    let comp = &a.compression;
    println!(
        "### compression {comp}: {n} records of {} B{}, median of {} rounds",
        size,
        match (a.payload.as_str(), a.inner.as_str()) {
            ("random", "none") => String::new(),
            (payload, inner) => format!(" ({payload}, sealed with inner codec {inner})"),
        },
        a.rounds
    );
    println!();
    println!("| | records/s | ratio |");
    println!("| --- | ---: | ---: |");
    println!("| produce plaintext | {produce_plain:.0} | |");
    println!(
        "| produce sealed | {produce_sealed:.0} | {:.3} of plaintext |",
        produce_sealed / produce_plain
    );
    println!("| (a) consume plaintext, direct | {a_:.0} | |");
    println!(
        "| (b) consume sealed, direct, open (cfrags in-process) | {b:.0} | b/a = {:.3} |",
        b / a_
    );
    println!(
        "| (c) consume sealed via rewrap proxy, open | {c:.0} | c/a = {:.3} |",
        c / a_
    );
    println!(
        "| (c0) same, without opening | {c0:.0} | c0/d = {:.3} |",
        c0 / d
    );
    println!(
        "| (d) consume sealed via Shotover, no transform | {d:.0} | c/d = {:.3} |",
        c / d
    );
    println!();
    println!(
        "Bytes on disk per record: plaintext {disk_plain:.0}, sealed {disk_sealed:.0} (+{:.0}).",
        disk_sealed - disk_plain
    );
    println!(
        "Proxy CPU per record: with transform {:.2} µs, Shotover alone {:.2} µs.",
        us(&cpu_c0),
        us(&cpu_d)
    );
    let per = |bytes: Vec<f64>| median(bytes) / n as f64;
    let (wire_c0, wire_d) = (per(out_c0), per(out_d));
    println!(
        "Bytes the proxy writes per record fetched (to the consumer and the broker): with transform {wire_c0:.0}, Shotover alone {wire_d:.0} ({:.2}×).",
        wire_c0 / wire_d
    );
    println!(
        "Proxy CPU per MB/s fetched (sizing): {:.1} mCPU with transform, {:.1} mCPU Shotover alone.",
        mcpu_per_mb_s(&cpu_c0, n, size),
        mcpu_per_mb_s(&cpu_d, n, size)
    );
    println!(
        "Re-encryption cache: {hits:.0} hits, {misses:.0} misses ({:.4} hit rate) for {annotated:.0} records annotated; \
         consecutive records of one session share one look-up.",
        hits / (hits + misses).max(1.0)
    );
    println!();
}
