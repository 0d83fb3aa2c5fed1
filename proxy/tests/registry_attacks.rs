//! Attacks on the Kafka grant registry followed by the real proxy binary, through a real
//! broker (issue 14's attacker review; `make test-kafka` runs them with `--ignored`). Each
//! failed against the first registry follower and holds since its fix: partitions added
//! later, floods of ignored records and of replayed grants ahead of a revocation, and replays
//! under alias spellings of a key (refused since keys must be canonical).

#![allow(clippy::zombie_processes)] // the restarted proxy is stopped by pid (proxy.sh stop)

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rewrap::engine::{GrantTerms, SecretKey, Signer};
use rewrap::{Grant, Revocation};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{cli, repo, script_with, var};

struct World {
    broker: String,
    dir: tempfile::TempDir,
    admin: Signer,
    channel: SecretKey,
    registry: String,
    prefix: String,
}

impl World {
    fn new(name: &str) -> World {
        let broker = var("REWRAP_KAFKA_BOOTSTRAP");
        let dir = tempfile::tempdir().unwrap();
        let admin_key = SecretKey::generate();
        rewrap::keyfile::write_secret(&dir.path().join("admin.sec"), &admin_key).unwrap();
        let admin = Signer::new(admin_key);
        rewrap::keyfile::write_public(&dir.path().join("admin.pub"), &admin.verifying_key())
            .unwrap();
        let channel = SecretKey::generate();
        rewrap::keyfile::write_secret(&dir.path().join("channel.sec"), &channel).unwrap();
        let mut b = [0u8; 4];
        rand_core::RngCore::fill_bytes(&mut rewrap::rng(), &mut b);
        let prefix = format!("{name}-{:08x}", u32::from_le_bytes(b));
        let registry = format!("{prefix}-registry");
        cli(
            dir.path(),
            &[
                "list",
                "--registry",
                &broker,
                "--registry-topic",
                &registry,
                "--create-registry",
                "--json",
            ],
        );
        let w = World {
            broker,
            dir,
            admin,
            channel,
            registry,
            prefix,
        };
        w.start_proxy();
        w
    }

    fn start_proxy(&self) {
        let admin_pub = self.dir.path().join("admin.pub");
        script_with(
            "proxy.sh",
            &[
                "start",
                self.proxy_dir().to_str().unwrap(),
                &self.broker,
                &format!("kafka://{}", self.broker),
                admin_pub.to_str().unwrap(),
            ],
            &[("REWRAP_PROXY_REGISTRY_TOPIC", &self.registry)],
        );
    }

    fn proxy_dir(&self) -> PathBuf {
        self.dir.path().join("proxy")
    }

    fn topic(&self) -> String {
        format!("{}-orders", self.prefix)
    }

    fn registry_cli(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.extend([
            "--registry",
            &self.broker,
            "--registry-topic",
            &self.registry,
        ]);
        cli(self.dir.path(), &all)
    }

    fn grant(&self, consumer: &str) -> Grant {
        let topic = self.topic();
        let terms = GrantTerms::one_of_one(&topic, consumer, SecretKey::generate().public_key(), 0);
        Grant::issue(&mut rewrap::rng(), &self.admin, &self.channel, &terms).unwrap()
    }

    fn producer(&self) -> BaseProducer {
        ClientConfig::new()
            .set("bootstrap.servers", &self.broker)
            .set("linger.ms", "20")
            .set("queue.buffering.max.messages", "1000000")
            .set("message.max.bytes", "1000000")
            .create()
            .unwrap()
    }

    /// Writes raw records (a `None` value: tombstone), optionally to one partition.
    fn publish(&self, records: &[(Vec<u8>, Option<Vec<u8>>)], partition: Option<i32>) {
        let p = self.producer();
        for (key, value) in records {
            let mut record = BaseRecord::<[u8], [u8]>::to(&self.registry).key(key.as_slice());
            if let Some(v) = value {
                record = record.payload(v.as_slice());
            }
            if let Some(part) = partition {
                record = record.partition(part);
            }
            let mut r = record;
            loop {
                match p.send(r) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        r = back;
                        p.poll(Duration::from_millis(10));
                    }
                }
            }
        }
        p.flush(Duration::from_secs(60)).unwrap();
    }

    fn metrics(&self) -> String {
        common::metrics(&self.proxy_dir())
    }

    fn metric(&self, name: &str) -> Option<f64> {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Waits until the gauge `rewrap_grants` equals `n`; how long it took, or None.
    fn wait_grants(&self, n: f64, within: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.metric("rewrap_grants") == Some(n) {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn proxy_alive(&self) -> bool {
        let pid = std::fs::read_to_string(self.proxy_dir().join("proxy.pid")).unwrap();
        Path::new("/proc").join(pid.trim()).exists()
    }

    fn proxy_cpu_secs(&self) -> f64 {
        let pid = std::fs::read_to_string(self.proxy_dir().join("proxy.pid")).unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
    }

    fn proxy_log(&self) -> String {
        std::fs::read_to_string(self.proxy_dir().join("proxy.log")).unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("tests/kafka/proxy.sh"))
            .args(["stop", self.proxy_dir().to_str().unwrap()])
            .status();
    }
}

fn records_of(grant: &Grant) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    rewrap::registry::grant_records(grant)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), Some(v)))
        .collect()
}

/// Partitions added to the registry topic after the proxy started are never read: a
/// revocation written to one of them (the CLI's producer picks the partition by key) does not
/// reach the running proxy. Asserts the revocation applies within 10 s.
#[test]
#[ignore = "needs a Kafka broker"]
fn revocation_in_a_partition_added_later_applies() {
    let w = World::new("attack-parts");
    let topic = w.topic();
    let g = w.grant("consumer-1");
    w.publish(&records_of(&g), None);
    assert!(
        w.wait_grants(1.0, Duration::from_secs(20)).is_some(),
        "{}",
        w.proxy_log()
    );
    // Someone (an operator scaling the topic, or anyone with Alter on it) adds partitions.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &w.broker)
        .create()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let res = rt
        .block_on(
            admin.create_partitions(&[NewPartitions::new(&w.registry, 4)], &AdminOptions::new()),
        )
        .unwrap();
    eprintln!("create_partitions: {res:?}");
    std::thread::sleep(Duration::from_secs(2));
    // The administrator revokes with the CLI; then, to be deterministic, the same signed
    // revocation is also written to each new partition explicitly.
    let out = w.registry_cli(&[
        "revoke",
        "--admin",
        "admin.sec",
        "--topic",
        &topic,
        "--consumer",
        "consumer-1",
    ]);
    eprintln!("cli: {out}");
    let took = w.wait_grants(0.0, Duration::from_secs(10));
    eprintln!("CLI revocation applied by the running proxy: {took:?}");
    if took.is_none() {
        let r = Revocation::issue(
            &mut rewrap::rng(),
            &w.admin,
            &topic,
            "consumer-1",
            None,
            rewrap::now_millis(),
        )
        .unwrap();
        let (k, v) = rewrap::registry::revocation_record(&r);
        w.publish(&[(k.into_bytes(), Some(v))], Some(3));
        let took3 = w.wait_grants(0.0, Duration::from_secs(10));
        eprintln!("revocation in partition 3 applied: {took3:?}");
        // A restarted proxy reads every partition.
        script_with(
            "proxy.sh",
            &["restart", w.proxy_dir().to_str().unwrap()],
            &[],
        );
        let after_restart = w.wait_grants(0.0, Duration::from_secs(30));
        eprintln!("after restart: {after_restart:?}");
        panic!(
            "revocation in a partition added after start never applied (CLI: {took:?}, \
             explicit partition 3: {took3:?}; after restart: {after_restart:?})"
        );
    }
}

/// Flood of hostile records (non-UTF-8 keys, extra '/', 900 KiB values, tombstones on grant
/// and revocation keys, forged grants, and replays of a revoked grant with a valid signature)
/// written ahead of a legitimate revocation: the follower must not crash or hang, and the
/// revocation behind the flood must apply promptly. Measures the delay and proxy CPU.
#[test]
#[ignore = "needs a Kafka broker"]
fn flood_of_ignored_records_before_a_revocation() {
    let w = World::new("attack-flood");
    let topic = w.topic();
    let victim = w.grant("consumer-1");
    let other = w.grant("consumer-2");
    w.publish(&records_of(&victim), None);
    w.publish(&records_of(&other), None);
    assert!(w.wait_grants(2.0, Duration::from_secs(20)).is_some());
    // consumer-2 revoked first, so its grant record is a valid-signature replay from now on.
    w.registry_cli(&[
        "revoke",
        "--admin",
        "admin.sec",
        "--topic",
        &topic,
        "--consumer",
        "consumer-2",
    ]);
    assert!(w.wait_grants(1.0, Duration::from_secs(20)).is_some());

    let mut junk: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let (gk, gv) = rewrap::registry::grant_records(&other).unwrap().remove(0);
    let stranger = Signer::new(SecretKey::generate());
    let terms = GrantTerms::one_of_one(&topic, "mallory", SecretKey::generate().public_key(), 0);
    let forged = Grant::issue(&mut rewrap::rng(), &stranger, &w.channel, &terms).unwrap();
    let (fk, fv) = rewrap::registry::grant_records(&forged).unwrap().remove(0);
    for i in 0..2000u32 {
        junk.push((vec![0xff, 0xfe, (i % 251) as u8], Some(vec![1, 2, 3])));
        junk.push((
            format!("grant/{i}/x/y/z/extra").into_bytes(),
            Some(vec![2; 64]),
        ));
        junk.push((gk.clone().into_bytes(), None)); // tombstone storm on a grant key
        junk.push((fk.clone().into_bytes(), Some(fv.clone())));
    }
    for _ in 0..20 {
        junk.push((gk.clone().into_bytes(), Some(vec![2u8; 900 * 1024])));
    }
    let replays = 500;
    for _ in 0..replays {
        junk.push((gk.clone().into_bytes(), Some(gv.clone())));
    }
    let cpu0 = w.proxy_cpu_secs();
    w.publish(&junk, None);
    let published = Instant::now();
    w.registry_cli(&[
        "revoke",
        "--admin",
        "admin.sec",
        "--topic",
        &topic,
        "--consumer",
        "consumer-1",
    ]);
    let took = w.wait_grants(0.0, Duration::from_secs(120));
    let since_flood = published.elapsed();
    let cpu = w.proxy_cpu_secs() - cpu0;
    eprintln!(
        "{} junk records ({replays} valid-signature replays): revocation behind them applied \
         after {took:?} (flood finished publishing {since_flood:?} ago); proxy CPU {cpu:.2} s",
        junk.len()
    );
    let m = w.metrics();
    for l in m.lines().filter(|l| l.starts_with("rewrap_registry")) {
        eprintln!("{l}");
    }
    assert!(w.proxy_alive(), "proxy died:\n{}", w.proxy_log());
    let warn_lines = w
        .proxy_log()
        .lines()
        .filter(|l| l.contains("record ignored"))
        .count();
    assert!(warn_lines <= 8, "ignored records logged {warn_lines} times");
    let took = took.expect("the revocation behind the flood was not applied in 120 s");
    assert!(
        took < Duration::from_secs(5),
        "revocation delayed {took:?} behind {} ignored records",
        junk.len()
    );
}

/// A flood of replays of a revoked grant's record (valid admin signature: each one is fully
/// verified, ECDSA and Umbral kfrag checks, before the revocation check refuses it) written
/// just ahead of a legitimate revocation: how long is the revocation delayed? Asserts < 5 s.
#[test]
#[ignore = "needs a Kafka broker"]
fn flood_of_valid_signature_replays_delays_a_revocation() {
    let replays: usize = std::env::var("ATTACK_REPLAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let w = World::new("attack-replays");
    let topic = w.topic();
    let victim = w.grant("consumer-1");
    let other = w.grant("consumer-2");
    w.publish(&records_of(&victim), None);
    w.publish(&records_of(&other), None);
    assert!(w.wait_grants(2.0, Duration::from_secs(20)).is_some());
    w.registry_cli(&[
        "revoke",
        "--admin",
        "admin.sec",
        "--topic",
        &topic,
        "--consumer",
        "consumer-2",
    ]);
    assert!(w.wait_grants(1.0, Duration::from_secs(20)).is_some());
    let (gk, gv) = rewrap::registry::grant_records(&other).unwrap().remove(0);
    let junk: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..replays)
        .map(|_| (gk.clone().into_bytes(), Some(gv.clone())))
        .collect();
    let cpu0 = w.proxy_cpu_secs();
    let t0 = Instant::now();
    w.publish(&junk, None);
    let publish_took = t0.elapsed();
    let r = Revocation::issue(
        &mut rewrap::rng(),
        &w.admin,
        &topic,
        "consumer-1",
        None,
        rewrap::now_millis(),
    )
    .unwrap();
    let (k, v) = rewrap::registry::revocation_record(&r);
    w.publish(&[(k.into_bytes(), Some(v))], None);
    let written = Instant::now();
    let took = w.wait_grants(0.0, Duration::from_secs(300));
    let cpu = w.proxy_cpu_secs() - cpu0;
    eprintln!(
        "{replays} replays published in {publish_took:?}; revocation written after them \
         applied {took:?} later; proxy CPU {cpu:.1} s (since written: {:?})",
        written.elapsed()
    );
    assert!(w.proxy_alive());
    let took = took.expect("not applied in 300 s");
    assert!(
        took < Duration::from_secs(5),
        "a revocation queued behind {replays} replayed grant records took {took:?}"
    );
}

/// Registry keys have many spellings the parser accepts (hex in either case; the share index
/// with leading zeros or '+'), so an attacker with write access can store any number of
/// valid-signature replays that compaction never collapses. Each costs a full grant
/// verification at every proxy start; past the 30 s catch-up bound the proxy starts serving
/// with what it read so far: grants read before the flood, revocations behind it not yet.
/// Asserts that a restarted proxy never holds the revoked grant.
#[test]
#[ignore = "needs a Kafka broker"]
fn restart_behind_alias_key_replays_serves_a_revoked_consumer() {
    let replays: usize = std::env::var("ATTACK_REPLAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(45_000);
    let w = World::new("attack-alias");
    let topic = w.topic();
    let victim = w.grant("consumer-1");
    let other = w.grant("consumer-2");
    w.publish(&records_of(&victim), None);
    w.publish(&records_of(&other), None);
    assert!(w.wait_grants(2.0, Duration::from_secs(20)).is_some());
    w.registry_cli(&[
        "revoke",
        "--admin",
        "admin.sec",
        "--topic",
        &topic,
        "--consumer",
        "consumer-2",
    ]);
    assert!(w.wait_grants(1.0, Duration::from_secs(20)).is_some());
    let (gk, gv) = rewrap::registry::grant_records(&other).unwrap().remove(0);
    let parts: Vec<&str> = gk.split('/').collect();
    // Spellings: case of every hex letter of topic and consumer, then leading zeros.
    let names = format!("{}/{}", parts[1], parts[2]);
    let letters: Vec<usize> = names
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .collect();
    let bits = letters.len().min(20);
    let junk: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..replays)
        .map(|i| {
            let mut t: Vec<u8> = names.as_bytes().to_vec();
            for (bit, &at) in letters.iter().enumerate().take(bits) {
                if i >> bit & 1 == 1 {
                    t[at] = t[at].to_ascii_uppercase();
                }
            }
            let zeros = "0".repeat(1 + (i >> bits));
            let key = format!(
                "grant/{}/{}/{zeros}",
                String::from_utf8(t).unwrap(),
                parts[3],
            );
            (key.into_bytes(), Some(gv.clone()))
        })
        .collect();
    w.publish(&junk, None);
    // The administrator revokes consumer-1 after the flood.
    w.registry_cli(&[
        "revoke",
        "--admin",
        "admin.sec",
        "--topic",
        &topic,
        "--consumer",
        "consumer-1",
    ]);
    let took = w.wait_grants(0.0, Duration::from_secs(300));
    eprintln!("running proxy applied the revocation behind {replays} alias replays: {took:?}");
    // Restart the proxy (same config), not through proxy.sh (it waits only 10 s).
    script_with("proxy.sh", &["stop", w.proxy_dir().to_str().unwrap()], &[]);
    let dir = w.proxy_dir();
    let log = std::fs::File::create(dir.join("proxy.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_rewrap-proxy"))
        .arg("--topology-file")
        .arg(dir.join("topology.yaml"))
        .arg("--config-file")
        .arg(dir.join("config.yaml"))
        .args(["--core-threads", "2"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    std::fs::write(dir.join("proxy.pid"), child.id().to_string()).unwrap();
    let ports = std::fs::read_to_string(dir.join("ports")).unwrap();
    let port: u16 = ports.split_whitespace().next().unwrap().parse().unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{}",
            w.proxy_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let listening = start.elapsed();
    let mut samples = Vec::new();
    let mut served_for = Duration::ZERO;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        let g = w.metric("rewrap_grants");
        samples.push(g);
        if g == Some(0.0) && t.elapsed() > Duration::from_millis(500) {
            break;
        }
        if g == Some(1.0) {
            served_for = t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let not_caught_up = w.proxy_log().contains("not caught up at start");
    eprintln!(
        "restart: listening after {listening:?}; not caught up: {not_caught_up}; revoked grant \
         held for {served_for:?} after listening; samples {:?}",
        &samples[..samples.len().min(10)]
    );
    assert!(
        !samples.contains(&Some(1.0)),
        "a restarted proxy listened holding consumer-1's revoked grant for {served_for:?}"
    );
}
