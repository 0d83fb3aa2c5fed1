//! Honest fetch throughput during a re-encryption miss storm (issue 13, "Measure"); run by
//! benches/kafka/miss_storm.sh, which starts the broker and the rewrap proxy.
//!
//! An honest consumer H (granted on its own topic, which holds `--records` 1 KiB records of a
//! few producer sessions) reads the whole topic through the proxy and opens every record, in
//! rounds that alternate between no storm and a storm. The storm is a second process (this
//! binary, `storm` role) that an administrator let write to a topic and read it: it produces
//! `--rate` records per second, each its own producer session (a fresh DEK and EDEK, signed
//! under its own producer grant, so the proxy verifies each session and re-encrypts each
//! capsule: every record is a miss), to `--partitions` partitions, and reads them back through
//! the proxy with one connection per partition under `--identities` granted consumer names (so
//! neither one connection's nor one consumer's miss budget caps the demand below the global
//! one). The storm's records are sealed before the rounds start, so its client-side Umbral
//! work does not compete with H for this machine's CPU; producing and fetching them does.
//!
//! Reported per round and as medians: H's records/s, the storm/no-storm ratio, CPU seconds of
//! the proxy, the broker, H's process and the storm's process during H's read, the machine's
//! busy cores (others' work included), and the proxy's re-encryptions, throttled records and
//! the cfrags the storm received per second of storm.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use rewrap::engine::{
    GrantTerms, Opened, ProducerGrant, SecretKey, Signer, SigningMode, CFRAG_HEADER,
};
use rewrap::{Decryptor, DirGrantStore, Encryptor, Grant};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Args = HashMap<String, String>;

fn args() -> (Option<String>, Args) {
    let mut it = std::env::args().skip(1).peekable();
    let role = it.next_if(|a| !a.starts_with("--"));
    let mut map = HashMap::new();
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        map.insert(k.trim_start_matches("--").to_string(), v);
    }
    (role, map)
}

fn get(a: &Args, k: &str) -> String {
    a.get(k).cloned().unwrap_or_else(|| panic!("missing --{k}"))
}

fn get_or<T: std::str::FromStr>(a: &Args, k: &str, default: T) -> T {
    a.get(k).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("--{k} {v}: not a number"))
    })
}

fn create_topic(broker: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = rt
        .block_on(admin.create_topics([&new], &AdminOptions::new()))
        .unwrap();
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
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

fn to_kafka(headers: &[(&str, &[u8])]) -> OwnedHeaders {
    let mut out = OwnedHeaders::new();
    for (name, value) in headers {
        out = out.insert(Header {
            key: name,
            value: Some(*value),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// /proc

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0 // USER_HZ
}

fn pid_in(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

/// Machine-wide CPU seconds from /proc/stat: (busy at normal priority, busy niced, total).
fn machine() -> (f64, f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    // user nice system idle iowait irq softirq steal
    let total: f64 = f.iter().take(8).sum();
    let idle = f[3] + f[4];
    ((total - idle - f[1]) / 100.0, f[1] / 100.0, total / 100.0)
}

fn metric(proxy_dir: &Path, name: &str) -> f64 {
    let ports = std::fs::read_to_string(proxy_dir.join("ports")).unwrap();
    let port: u16 = ports.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with([' ', '{']) || r.starts_with("_total"))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// The storm (its own process)

struct Sealed {
    value: Vec<u8>,
    headers: Vec<(&'static str, Vec<u8>)>,
}

fn seal_sessions(enc: &Encryptor, topic: &str, n: usize) -> Vec<Sealed> {
    let payload = [0x5au8; 100];
    (0..n)
        .map(|_| {
            enc.rotate();
            let s = enc.seal(topic, None, &payload).unwrap();
            Sealed {
                headers: s
                    .headers()
                    .into_iter()
                    .map(|(k, v)| (k, v.to_vec()))
                    .collect(),
                value: s.value.to_vec(),
            }
        })
        .collect()
}

#[derive(Default)]
struct StormCounters {
    produced: AtomicU64,
    fetched: AtomicU64,
    cfrags: AtomicU64,
}

fn storm(a: &Args) {
    let broker = get(a, "broker");
    let proxy = get(a, "proxy");
    let topic = get(a, "topic");
    let rate: f64 = get_or(a, "rate", 1000.0);
    let partitions: i32 = get_or(a, "partitions", 16);
    let identities: i32 = get_or(a, "identities", 8);
    let pool_size: usize = get_or(a, "pool", 30_000);
    let admin = Signer::new(rewrap::keyfile::read_secret(Path::new(&get(a, "admin"))).unwrap());
    let store = DirGrantStore::open(get(a, "store")).unwrap();

    // What an administrator gave the attacker: a producer grant on the storm topic and
    // consumer grants there for `identities` names.
    create_topic(&broker, &topic, partitions);
    let channel = SecretKey::generate();
    let signing = SecretKey::generate();
    let pgrant = ProducerGrant::issue(
        &mut rewrap::rng(),
        &admin,
        &topic,
        &signing.public_key(),
        0,
        None,
    )
    .unwrap();
    store.put_producer(&pgrant).unwrap();
    let key = SecretKey::generate();
    for i in 0..identities {
        let name = format!("storm-{i}");
        let terms = GrantTerms::one_of_one(&topic, &name, key.public_key(), 0);
        store
            .put(&Grant::issue(&mut rewrap::rng(), &admin, &channel, &terms).unwrap())
            .unwrap();
    }

    // Sessions sealed ahead (two threads), so the client's Umbral work is not in the rounds.
    let started = Instant::now();
    let pool: Vec<Sealed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (channel, signing, topic) = (&channel, &signing, &topic);
                s.spawn(move || {
                    let enc = Encryptor::new(channel.public_key()).unwrap();
                    enc.set_signer(Some((signing, SigningMode::Session)));
                    seal_sessions(&enc, topic, pool_size / 2)
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    eprintln!(
        "storm: {} sessions sealed in {:.1} s",
        pool.len(),
        started.elapsed().as_secs_f64()
    );
    let pool = Arc::new(Mutex::new(pool));
    let live = Arc::new(Encryptor::new(channel.public_key()).unwrap());
    live.set_signer(Some((&signing, SigningMode::Session)));

    let storming = Arc::new(AtomicBool::new(false));
    // Which records a phase sends: fresh sessions (misses) or one session (hits).
    let misses = Arc::new(AtomicBool::new(true));
    // Bumped when a phase ends with a backlog: the fetchers jump to the end of their partition.
    let skip = Arc::new(AtomicU64::new(0));
    let quit = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(StormCounters::default());
    let sealed_live = Arc::new(AtomicU64::new(0));

    // One connection per partition, named storm-(partition mod identities).
    let mut threads = Vec::new();
    for p in 0..partitions {
        let (proxy, topic, quit, counters, skip) = (
            proxy.clone(),
            topic.clone(),
            quit.clone(),
            counters.clone(),
            skip.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let c: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &proxy)
                .set("client.id", format!("storm-{}", p % identities))
                .set("group.id", format!("storm-{p}"))
                .set("enable.auto.commit", "false")
                .create()
                .unwrap();
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&topic, p, Offset::Beginning)
                .unwrap();
            c.assign(&tpl).unwrap();
            let mut skipped = 0;
            while !quit.load(Ordering::Relaxed) {
                if skip.load(Ordering::Relaxed) != skipped {
                    skipped = skip.load(Ordering::Relaxed);
                    let mut tpl = TopicPartitionList::new();
                    tpl.add_partition_offset(&topic, p, Offset::End).unwrap();
                    c.assign(&tpl).unwrap();
                }
                let Some(m) = c.poll(Duration::from_millis(100)) else {
                    continue;
                };
                let m = m.unwrap();
                let cfrag = m
                    .headers()
                    .is_some_and(|h| h.iter().any(|h| h.key == CFRAG_HEADER));
                counters.fetched.fetch_add(1, Ordering::Relaxed);
                if cfrag {
                    counters.cfrags.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    {
        let (broker, topic, quit, storming, counters, pool, live, sealed_live, misses) = (
            broker.clone(),
            topic.clone(),
            quit.clone(),
            storming.clone(),
            counters.clone(),
            pool.clone(),
            live.clone(),
            sealed_live.clone(),
            misses.clone(),
        );
        // The hits storm: every record of one session (the proxy verifies and re-encrypts it
        // once per consumer name, then serves hits), the same bytes each time.
        let one = Encryptor::new(channel.public_key()).unwrap();
        one.set_signer(Some((&signing, SigningMode::Session)));
        let one_session = seal_sessions(&one, &topic, 1).pop().unwrap();
        threads.push(std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &broker)
                .set("linger.ms", "5")
                .create()
                .unwrap();
            let mut sent: u64 = 0;
            let mut since: Option<Instant> = None;
            while !quit.load(Ordering::Relaxed) {
                if !storming.load(Ordering::Relaxed) {
                    since = None;
                    p.poll(Duration::from_millis(5));
                    continue;
                }
                let start = *since.get_or_insert_with(|| {
                    sent = 0;
                    Instant::now()
                });
                // Paced: record i goes out at start + i / rate.
                let due = (start.elapsed().as_secs_f64() * rate) as u64;
                let fresh = misses.load(Ordering::Relaxed);
                while sent < due {
                    let popped;
                    let s = if fresh {
                        popped = pool.lock().unwrap().pop().unwrap_or_else(|| {
                            sealed_live.fetch_add(1, Ordering::Relaxed);
                            seal_sessions(&live, &topic, 1).pop().unwrap()
                        });
                        &popped
                    } else {
                        &one_session
                    };
                    let headers: Vec<(&str, &[u8])> =
                        s.headers.iter().map(|(k, v)| (*k, &v[..])).collect();
                    send(
                        &p,
                        BaseRecord::to(&topic)
                            .partition((sent % partitions as u64) as i32)
                            .payload(&s.value[..])
                            .headers(to_kafka(&headers)),
                    );
                    sent += 1;
                    counters.produced.fetch_add(1, Ordering::Relaxed);
                }
                p.poll(Duration::from_millis(2));
            }
            p.flush(Duration::from_secs(10)).unwrap();
        }));
    }
    // The proxy reloads its store; the consumers connect.
    std::thread::sleep(Duration::from_millis(1500));
    println!("ready");
    std::io::stdout().flush().unwrap();

    let mut phase_start = Instant::now();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match words.next().unwrap_or_default() {
            "start" => {
                misses.store(words.next() != Some("hits"), Ordering::Relaxed);
                counters.produced.store(0, Ordering::Relaxed);
                counters.fetched.store(0, Ordering::Relaxed);
                counters.cfrags.store(0, Ordering::Relaxed);
                phase_start = Instant::now();
                storming.store(true, Ordering::Relaxed);
                println!("started");
            }
            "stop" => {
                storming.store(false, Ordering::Relaxed);
                let produced_for = phase_start.elapsed().as_secs_f64();
                // The fetchers catch up (so the next quiet round is quiet), for at most 5 s.
                let deadline = Instant::now() + Duration::from_secs(5);
                while counters.fetched.load(Ordering::Relaxed)
                    < counters.produced.load(Ordering::Relaxed)
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let fetched = counters.fetched.load(Ordering::Relaxed);
                let backlog = counters.produced.load(Ordering::Relaxed)
                    - fetched.min(counters.produced.load(Ordering::Relaxed));
                if backlog > 0 {
                    skip.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(500));
                }
                println!(
                    "stats {} {} {} {:.3} {:.3} {} {}",
                    counters.produced.load(Ordering::Relaxed),
                    fetched,
                    counters.cfrags.load(Ordering::Relaxed),
                    produced_for,
                    phase_start.elapsed().as_secs_f64(),
                    sealed_live.load(Ordering::Relaxed),
                    backlog,
                );
            }
            "quit" => break,
            other => panic!("storm: unknown command {other:?}"),
        }
        std::io::stdout().flush().unwrap();
    }
    quit.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
}

struct Storm {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// What the storm did in one phase.
#[derive(Clone, Copy, Default)]
struct StormStats {
    produced: f64,
    fetched: f64,
    cfrags: f64,
    /// Seconds it produced for, and until its fetchers had caught up.
    produced_for: f64,
    phase: f64,
    sealed_live: f64,
    /// Records not fetched 5 s after the storm stopped (skipped).
    backlog: f64,
}

impl Storm {
    fn command(&mut self, cmd: &str) -> String {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
        self.line()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "storm process ended");
        line.trim().to_string()
    }

    fn stop(&mut self) -> StormStats {
        let line = self.command("stop");
        let f: Vec<f64> = line
            .strip_prefix("stats ")
            .unwrap_or_else(|| panic!("storm said {line:?}"))
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        StormStats {
            produced: f[0],
            fetched: f[1],
            cfrags: f[2],
            produced_for: f[3],
            phase: f[4],
            sealed_live: f[5],
            backlog: f[6],
        }
    }

    fn cpu(&self) -> f64 {
        cpu_secs(self.child.id())
    }
}

// ---------------------------------------------------------------------------------------------
// The honest consumer

/// Reads `n` records of `topic` through `proxy` from the beginning, opening each; returns
/// (records/s, records that did not open).
fn honest_read(proxy: &str, topic: &str, n: usize, dec: &Decryptor) -> (f64, usize) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", proxy)
        .set("client.id", "honest")
        .set("group.id", "honest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let start = Instant::now();
    let (mut got, mut failed) = (0, 0);
    while got < n {
        let Some(m) = c.poll(Duration::from_secs(30)) else {
            panic!("{topic} via {proxy}: stalled after {got} records");
        };
        let m = m.unwrap();
        let mut headers: Vec<(&str, &[u8])> = Vec::with_capacity(3);
        if let Some(h) = m.headers() {
            for header in h.iter() {
                headers.push((header.key, header.value.unwrap_or_default()));
            }
        }
        match dec.open(topic, m.key(), m.payload(), &headers) {
            Ok(Opened::Decrypted(d)) => assert_eq!(d.payload.len(), 1024),
            other => {
                if failed == 0 {
                    eprintln!("honest record {got} did not open: {other:?}");
                }
                failed += 1;
            }
        }
        got += 1;
    }
    (n as f64 / start.elapsed().as_secs_f64(), failed)
}

/// One measured read of H, with what every process spent meanwhile.
#[derive(Clone, Copy, Default)]
struct Reading {
    rate: f64,
    failed: usize,
    secs: f64,
    proxy_cpu: f64,
    broker_cpu: f64,
    honest_cpu: f64,
    storm_cpu: f64,
    machine_busy: f64,
    machine_niced: f64,
    reencryptions: f64,
    throttled: f64,
}

struct Bench {
    proxy: String,
    proxy_dir: PathBuf,
    proxy_pid: u32,
    broker_pid: u32,
    topic: String,
    records: usize,
}

impl Bench {
    fn read(&self, dec: &Decryptor, storm: &Storm) -> Reading {
        let cpu = || {
            (
                cpu_secs(self.proxy_pid),
                cpu_secs(self.broker_pid),
                cpu_secs(std::process::id()),
                storm.cpu(),
                machine(),
                metric(&self.proxy_dir, "rewrap_reencryptions"),
                metric(&self.proxy_dir, "rewrap_records_throttled"),
            )
        };
        let before = cpu();
        let start = Instant::now();
        let (rate, failed) = honest_read(&self.proxy, &self.topic, self.records, dec);
        let secs = start.elapsed().as_secs_f64();
        // The re-encryption gauge is published by the reloader every 200 ms.
        let after = cpu();
        Reading {
            rate,
            failed,
            secs,
            proxy_cpu: after.0 - before.0,
            broker_cpu: after.1 - before.1,
            honest_cpu: after.2 - before.2,
            storm_cpu: after.3 - before.3,
            machine_busy: (after.4 .0 - before.4 .0) / secs,
            machine_niced: (after.4 .1 - before.4 .1) / secs,
            reencryptions: after.5 - before.5,
            throttled: after.6 - before.6,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let (role, a) = args();
    if role.as_deref() == Some("storm") {
        storm(&a);
        return;
    }
    let broker = get(&a, "broker");
    let proxy = get(&a, "proxy");
    let proxy_dir = PathBuf::from(get(&a, "proxy-dir"));
    let broker_dir = PathBuf::from(get(&a, "broker-dir"));
    let store_path = get(&a, "store");
    let admin_path = get(&a, "admin");
    let records: usize = get_or(&a, "records", 100_000);
    let rounds: usize = get_or(&a, "rounds", 5);
    let rate: f64 = get_or(&a, "rate", 1000.0);
    let partitions: i32 = get_or(&a, "partitions", 16);
    let identities: i32 = get_or(&a, "identities", 8);
    let warmup = Duration::from_millis(get_or(&a, "warmup-ms", 2000));
    let label = a.get("label").cloned().unwrap_or_default();

    let admin = Signer::new(rewrap::keyfile::read_secret(Path::new(&admin_path)).unwrap());
    let admins = [admin.verifying_key()];
    let tag = format!("{:x}", rewrap::now());
    let topic = format!("honest-{tag}");
    let storm_topic = format!("storm-{tag}");

    // H: granted on its topic; the topic's producer signs its sessions under a producer grant.
    let store = DirGrantStore::open(&store_path).unwrap();
    let channel = SecretKey::generate();
    let key = SecretKey::generate();
    let terms = GrantTerms::one_of_one(&topic, "honest", key.public_key(), 0);
    store
        .put(&Grant::issue(&mut rewrap::rng(), &admin, &channel, &terms).unwrap())
        .unwrap();
    let signing = SecretKey::generate();
    let pgrant = ProducerGrant::issue(
        &mut rewrap::rng(),
        &admin,
        &topic,
        &signing.public_key(),
        0,
        None,
    )
    .unwrap();
    store.put_producer(&pgrant).unwrap();
    let dec = Decryptor::new(key, &admins).unwrap();
    dec.add_producer_grant(&pgrant).unwrap();

    // N records of 1 KiB in four sessions, straight to the broker.
    let sessions = 4;
    {
        let enc = Encryptor::new(channel.public_key()).unwrap();
        enc.set_signer(Some((&signing, SigningMode::Session)));
        let p: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &broker)
            .set("linger.ms", "5")
            .set("queue.buffering.max.messages", "500000")
            .create()
            .unwrap();
        let mut payload = vec![0u8; 1024];
        let mut rng = rewrap::rng();
        for i in 0..records {
            if i % records.div_ceil(sessions) == 0 {
                enc.rotate();
            }
            rand_core::RngCore::fill_bytes(&mut rng, &mut payload);
            let key = (i as u64).to_be_bytes();
            let sealed = enc.seal(&topic, Some(&key[..]), &payload).unwrap();
            send(
                &p,
                BaseRecord::to(&topic)
                    .key(&key[..])
                    .payload(&sealed.value[..])
                    .headers(to_kafka(&sealed.headers())),
            );
            p.poll(Duration::ZERO);
        }
        p.flush(Duration::from_secs(120)).unwrap();
    }

    // The storm process: enough sessions sealed for every misses phase (it seals more live if
    // a phase runs longer, and says how many).
    let pool = (rounds as f64 * (warmup.as_secs_f64() + 12.0) * rate) as usize;
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .arg("storm")
        .args([
            "--broker",
            &broker,
            "--proxy",
            &proxy,
            "--topic",
            &storm_topic,
        ])
        .args(["--rate", &rate.to_string(), "--pool", &pool.to_string()])
        .args(["--partitions", &partitions.to_string()])
        .args(["--identities", &identities.to_string()])
        .args(["--store", &store_path, "--admin", &admin_path])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut storm = Storm {
        stdin: child.stdin.take().unwrap(),
        stdout: BufReader::new(child.stdout.take().unwrap()),
        child,
    };
    let ready = storm.line();
    assert_eq!(ready, "ready");

    let bench = Bench {
        proxy: proxy.clone(),
        proxy_pid: pid_in(&proxy_dir.join("proxy.pid")),
        broker_pid: pid_in(&broker_dir.join("broker.pid")),
        proxy_dir,
        topic: topic.clone(),
        records,
    };
    // One untimed read: H's sessions verified and re-encrypted once, its DEKs opened once.
    let (_, failed) = honest_read(&proxy, &topic, records, &dec);
    assert_eq!(
        failed, 0,
        "the honest consumer opens every record without a storm"
    );

    // Three phases per round, in turn forwards and backwards (drift cancels out):
    //   quiet  - no storm;
    //   hits   - the same storm traffic, every record of one session: the proxy serves cache
    //            hits, so this isolates what 1,000 records/s over 16 connections cost the box;
    //   misses - the storm: every record a new session.
    const PHASES: [&str; 3] = ["quiet", "hits", "misses"];
    let mut reads: [Vec<Reading>; 3] = Default::default();
    let mut storms: [Vec<(StormStats, f64, f64, f64)>; 2] = Default::default();
    let reenc = |b: &Bench| metric(&b.proxy_dir, "rewrap_reencryptions");
    let throttled = |b: &Bench| metric(&b.proxy_dir, "rewrap_records_throttled");
    for round in 0..rounds {
        let order: [usize; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        for phase in order {
            if phase == 0 {
                reads[0].push(bench.read(&dec, &storm));
                continue;
            }
            let (r0, t0, p0) = (reenc(&bench), throttled(&bench), cpu_secs(bench.proxy_pid));
            assert_eq!(
                storm.command(&format!("start {}", PHASES[phase])),
                "started"
            );
            std::thread::sleep(warmup);
            reads[phase].push(bench.read(&dec, &storm));
            let s = storm.stop();
            std::thread::sleep(Duration::from_millis(300)); // the gauge catches up
            let (r1, t1, p1) = (reenc(&bench), throttled(&bench), cpu_secs(bench.proxy_pid));
            storms[phase - 1].push((s, r1 - r0, t1 - t0, p1 - p0));
        }
    }
    writeln!(storm.stdin, "quit").unwrap();
    storm.stdin.flush().unwrap();
    storm.child.wait().unwrap();

    let [quiet, hits, misses] = &reads;
    println!(
        "### Miss storm{label}: H reads {records} records of 1 KiB ({sessions} sessions) through the proxy and opens them; storm {rate:.0} records/s over {partitions} connections under {identities} consumer names; {rounds} rounds"
    );
    println!();
    println!("| round | H quiet (rec/s) | H, hits storm | H, miss storm | miss storm / quiet | hits storm / quiet | miss / hits storm |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let ratio = |a: &[Reading], b: &[Reading]| -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| a.rate / b.rate).collect()
    };
    let (mq, hq, mh) = (
        ratio(misses, quiet),
        ratio(hits, quiet),
        ratio(misses, hits),
    );
    for i in 0..rounds {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.3} | {:.3} | {:.3} |",
            i + 1,
            quiet[i].rate,
            hits[i].rate,
            misses[i].rate,
            mq[i],
            hq[i],
            mh[i]
        );
    }
    let m = |v: &[Reading], f: fn(&Reading) -> f64| median(v.iter().map(f).collect());
    println!(
        "| **median** | {:.0} | {:.0} | {:.0} | **{:.3}** | {:.3} | {:.3} |",
        m(quiet, |r| r.rate),
        m(hits, |r| r.rate),
        m(misses, |r| r.rate),
        median(mq.clone()),
        median(hq.clone()),
        median(mh.clone())
    );
    println!();
    println!("During H's read (medians; CPU in cores, i.e. CPU-seconds per second):");
    println!();
    println!("| | quiet | hits storm | miss storm |");
    println!("| --- | ---: | ---: | ---: |");
    let row = |name: &str, f: fn(&Reading) -> f64, digits: usize| {
        println!(
            "| {name} | {:.*} | {:.*} | {:.*} |",
            digits,
            m(quiet, f),
            digits,
            m(hits, f),
            digits,
            m(misses, f)
        );
    };
    row("proxy CPU", |r| r.proxy_cpu / r.secs, 2);
    row("broker CPU", |r| r.broker_cpu / r.secs, 2);
    row("H's process CPU", |r| r.honest_cpu / r.secs, 2);
    row("storm process CPU", |r| r.storm_cpu / r.secs, 2);
    row("machine busy, normal priority", |r| r.machine_busy, 2);
    row(
        "machine busy, niced (others' builds, fuzzer)",
        |r| r.machine_niced,
        2,
    );
    row(
        "proxy re-encryptions per second",
        |r| r.reencryptions / r.secs,
        0,
    );
    row(
        "storm records throttled per second",
        |r| r.throttled / r.secs,
        0,
    );
    println!(
        "| H records that did not open | {} | {} | {} |",
        quiet.iter().map(|r| r.failed).sum::<usize>(),
        hits.iter().map(|r| r.failed).sum::<usize>(),
        misses.iter().map(|r| r.failed).sum::<usize>()
    );
    println!();
    println!("Whole storm phases (from start, through warm-up and H's read, until the storm's fetchers caught up or 5 s after it stopped producing; medians):");
    println!();
    println!("| | hits storm | miss storm |");
    println!("| --- | ---: | ---: |");
    type S = (StormStats, f64, f64, f64);
    let srow = |name: &str, f: fn(&S) -> f64| {
        let v = |i: usize| median(storms[i].iter().map(f).collect());
        println!("| {name} | {:.0} | {:.0} |", v(0), v(1));
    };
    srow("phase length (ms)", |(s, ..)| s.phase * 1000.0);
    srow("records produced per second", |(s, ..)| {
        s.produced / s.produced_for
    });
    srow("records the storm fetched per second", |(s, ..)| {
        s.fetched / s.phase
    });
    srow("with a cfrag, per second", |(s, ..)| s.cfrags / s.phase);
    srow("proxy re-encryptions per second", |(s, re, ..)| {
        re / s.phase
    });
    srow("records throttled per second", |(s, _, th, _)| th / s.phase);
    srow("proxy CPU (cores, ×1000)", |(s, _, _, cpu)| {
        cpu / s.phase * 1000.0
    });
    srow("backlog left unfetched (skipped)", |(s, ..)| s.backlog);
    srow("sessions sealed live (pool ran out)", |(s, ..)| {
        s.sealed_live
    });
    println!();
}
