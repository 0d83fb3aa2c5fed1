//! `rewrap produce` and `rewrap consume` against a real broker and the real proxy binary, every
//! step through the built `rewrap` binary (keys, grants, producing, consuming).
//!
//! Needs a broker: `make test-kafka` runs this with `--ignored` from tests/kafka/run-tests.sh,
//! which sets REWRAP_KAFKA_BOOTSTRAP, REWRAP_KAFKA_DIR and REWRAP_PROXY_BIN (the proxy is
//! started here with tests/kafka/proxy.sh, on its own grant store).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run this through `make test-kafka`, which starts a broker")
    })
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rewrap(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rewrap"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = rewrap(dir, args, b"");
    assert!(
        out.status.success(),
        "rewrap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The proxy (tests/kafka/proxy.sh) for one store, stopped on drop.
struct Proxy {
    dir: PathBuf,
    bootstrap: String,
}

impl Proxy {
    /// Starts the proxy in front of `broker` on `store`, with more proxy.sh environment
    /// (REWRAP_PROXY_POLICY...).
    fn start_with(
        dir: &Path,
        broker: &str,
        store: &Path,
        admin_pub: &Path,
        env: &[(&str, &str)],
    ) -> Proxy {
        let dir = dir.join("proxy");
        let out = Command::new("bash")
            .arg(repo().join("tests/kafka/proxy.sh"))
            .args(["start", dir.to_str().unwrap(), broker])
            .args([store, admin_pub])
            .env("REWRAP_PROXY_BIN", var("REWRAP_PROXY_BIN"))
            .env("REWRAP_PROXY_RELOAD_MS", "100")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "proxy.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bootstrap = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Proxy { dir, bootstrap }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("tests/kafka/proxy.sh"))
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
    }
}

/// `rewrap produce` of `input` to `topic` under the channel key, signed by `signer` (a key file
/// in `d`) or unsigned; asserts it succeeded.
fn produce(d: &Path, broker: &str, topic: &str, signer: Option<&str>, input: &[u8]) {
    let mut args = vec![
        "produce",
        "--broker",
        broker,
        "--topic",
        topic,
        "--delegating-key",
        "channel.pub",
    ];
    if let Some(s) = signer {
        args.extend(["--signer", s]);
    }
    let out = rewrap(d, &args, input);
    assert!(
        out.status.success(),
        "produce: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `rewrap consume` of up to `max` records of `topic` from the beginning, through `bootstrap`,
/// as `consumer` with the secret key file `secret` (in `d`, with admin.pub and the store
/// `grants`), and `extra` arguments.
fn consume(
    d: &Path,
    bootstrap: &str,
    topic: &str,
    (consumer, secret): (&str, &str),
    max: usize,
    extra: &[&str],
) -> Output {
    let max = max.to_string();
    let mut args = vec![
        "consume",
        "--proxy",
        bootstrap,
        "--topic",
        topic,
        "--consumer",
        consumer,
        "--secret",
        secret,
        "--admin-pub",
        "admin.pub",
        "--store",
        "grants",
        "--from-beginning",
        "--max",
        &max,
        "--timeout",
        "30",
    ];
    args.extend(extra);
    rewrap(d, &args, b"")
}

/// Keys for admin, channel, alice, bob and a signing producer in `d`; a proxy (with `env`) in
/// front of `broker` following the grant store `d/grants`, where alice is granted `topic`'s
/// channel key and the producer is authorized for it.
fn granted_world(d: &Path, broker: &str, topic: &str, env: &[(&str, &str)]) -> Proxy {
    for name in ["admin", "channel", "alice", "bob"] {
        ok(d, &["keygen", name]);
    }
    ok(d, &["keygen", "--signer", "producer"]);
    let proxy = Proxy::start_with(d, broker, &d.join("grants"), &d.join("admin.pub"), env);
    ok(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--delegating",
            "channel.sec",
            "--topic",
            topic,
            "--consumer",
            "alice",
            "--consumer-key",
            "alice.pub",
        ],
    );
    ok(
        d,
        &[
            "grant",
            "--store",
            "grants",
            "--admin",
            "admin.sec",
            "--producer",
            "producer.pub",
            "--topic",
            topic,
        ],
    );
    // The proxy re-reads its store every 100 ms here.
    std::thread::sleep(Duration::from_millis(1000));
    proxy
}

/// Log segments (`*.log`: where a broker keeps record batches) under `dir` that contain
/// `needle`. Index files are left out: sparse and preallocated, they are slow to read and
/// hold no record bytes.
fn grep_dir(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "log")
                && std::fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            {
                hits.push(path);
            }
        }
    }
    hits
}

/// Lines produced with `rewrap produce` (signed, channel key; then keyed, each record signed)
/// come out of `rewrap consume` through the proxy exactly, in order, for the granted consumer; an ungranted consumer and a
/// granted one reading the broker directly get one named error per record and no plaintext;
/// the broker's log segments never hold the plaintext.
#[test]
#[ignore = "needs a Kafka broker and the proxy binary: make test-kafka"]
fn produced_lines_come_out_opened_for_granted_consumer_only() {
    let broker = var("REWRAP_KAFKA_BOOTSTRAP");
    let data = PathBuf::from(var("REWRAP_KAFKA_DIR")).join("data");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let nonce = rewrap::now_millis();
    let topic = format!("cli-console-{nonce:x}");
    let canary = format!("CLI-CANARY-{nonce:x}");

    let proxy = granted_world(d, &broker, &topic, &[]);

    // An empty line, spaces, UTF-8, 2 KiB: every byte but the newline survives.
    let mut lines: Vec<String> = (0..40)
        .map(|i| format!("line {i} {canary} {}", "é".repeat(i)))
        .collect();
    lines.extend([
        String::new(),
        "  leading and trailing spaces  ".to_string(),
        format!("{canary}{}", "x".repeat(2048)),
        "k=v=w".to_string(),
    ]);
    let input = lines.join("\n") + "\n";
    produce(d, &broker, &topic, Some("producer.sec"), input.as_bytes());
    let n = lines.len().to_string();
    let read_as = |consumer: &str, secret: &str, bootstrap: &str| {
        consume(d, bootstrap, &topic, (consumer, secret), lines.len(), &[])
    };

    let alice = read_as("alice", "alice.sec", &proxy.bootstrap);
    let stderr = String::from_utf8_lossy(&alice.stderr);
    assert!(alice.status.success(), "alice's consume failed: {stderr}");
    assert_eq!(String::from_utf8(alice.stdout).unwrap(), input, "{stderr}");
    assert!(
        stderr.contains(&format!("{n} opened, 0 refused")),
        "{stderr}"
    );

    // bob holds no grant: the proxy attaches no cfrag, so every record is refused by name.
    let bob = read_as("bob", "bob.sec", &proxy.bootstrap);
    assert_refused(&bob, lines.len(), "MissingCfrag", &canary);

    // Straight from the broker even alice gets no cfrag: consumers fail closed.
    let direct = read_as("alice", "alice.sec", &broker);
    assert_refused(&direct, lines.len(), "MissingCfrag", &canary);

    // alice's secret key under bob's client id: the proxy finds no grant for bob.
    let borrowed = read_as("bob", "alice.sec", &proxy.bootstrap);
    assert_refused(&borrowed, lines.len(), "MissingCfrag", &canary);

    // Keyed records (split at the first separator; the key is bound to the value) with a
    // signature on every record, after the first batch.
    let keyed = format!("key-1={canary} one\nkey-2=v=2\nno separator here\n");
    let produced = rewrap(
        d,
        &[
            "produce",
            "--broker",
            &broker,
            "--topic",
            &topic,
            "--delegating-key",
            "channel.pub",
            "--signer",
            "producer.sec",
            "--sign-records",
            "--key-separator",
            "=",
        ],
        keyed.as_bytes(),
    );
    assert!(
        produced.status.success(),
        "keyed produce failed: {}",
        String::from_utf8_lossy(&produced.stderr)
    );
    let alice = consume(
        d,
        &proxy.bootstrap,
        &topic,
        ("alice", "alice.sec"),
        lines.len() + 3,
        &[],
    );
    let stderr = String::from_utf8_lossy(&alice.stderr);
    assert!(
        alice.status.success(),
        "alice's second consume failed: {stderr}"
    );
    let expected = format!("{input}{canary} one\nv=2\nno separator here\n");
    assert_eq!(
        String::from_utf8(alice.stdout).unwrap(),
        expected,
        "{stderr}"
    );

    // The scan covers the topic's own segment, which holds the sealed records.
    let segment = std::fs::read_dir(data.join(format!("{topic}-0")))
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "log"))
        .expect("the topic's log segment");
    assert!(segment.metadata().unwrap().len() > 2048);
    let hits = grep_dir(&data, canary.as_bytes());
    assert!(hits.is_empty(), "plaintext on the broker's disk: {hits:?}");
}

/// `out` failed with `count` records refused as `name`, and printed no plaintext.
fn assert_refused(out: &Output, count: usize, name: &str, canary: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "consume succeeded: {stderr}");
    assert!(out.stdout.is_empty(), "plaintext printed: {stderr}");
    assert!(!stderr.contains(canary), "plaintext in errors: {stderr}");
    let named = stderr
        .lines()
        .filter(|l| l.contains(&format!(": {name}: ")))
        .count();
    assert_eq!(named, count, "{stderr}");
    assert!(
        stderr.contains(&format!("0 opened, {count} refused ({name} {count})")),
        "{stderr}"
    );
}

#[cfg(feature = "kafka")]
/// A record with these headers and `value` (`None`: a tombstone) under `key`, written straight
/// to the broker as someone with only write access to the topic would, header names as raw
/// bytes (librdkafka takes any bytes; Kafka does not check them).
fn forge(
    broker: &str,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&[u8], &[u8])],
) {
    use rdkafka::message::OwnedHeaders;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let owned = OwnedHeaders::new();
    for (name, value) in headers {
        // OwnedHeaders::insert takes a &str name; the C call takes bytes.
        let raw = owned.as_borrowed() as *const _ as *mut rdkafka::bindings::rd_kafka_headers_t;
        let err = unsafe {
            rdkafka::bindings::rd_kafka_header_add(
                raw,
                name.as_ptr().cast(),
                name.len() as isize,
                value.as_ptr().cast(),
                value.len() as isize,
            )
        };
        assert_eq!(
            err,
            rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        );
    }
    let mut record = BaseRecord::<[u8], [u8]>::to(topic).headers(owned);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(value) = value {
        record = record.payload(value);
    }
    producer.send(record).map_err(|(e, _)| e).unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Attacker records written straight to the broker between honest ones: a header name that is
/// not UTF-8, a tombstone whose key looks like two output lines, plaintext with terminal escapes.
/// `rewrap consume` must not panic on any of them, must print only the honest payloads on
/// stdout, name each forged value on stderr and exit 1.
#[cfg(feature = "kafka")]
#[test]
#[ignore = "needs a Kafka broker and the proxy binary: make test-kafka"]
fn forged_records_never_reach_stdout_nor_crash_consume() {
    let broker = var("REWRAP_KAFKA_BOOTSTRAP");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let topic = format!("cli-forged-{:x}", rewrap::now_millis());
    let proxy = granted_world(d, &broker, &topic, &[]);

    produce(d, &broker, &topic, Some("producer.sec"), b"honest one\n");
    forge(
        &broker,
        &topic,
        None,
        Some(b"FORGED-UTF8"),
        &[(b"x\xff\xfe", b"v")],
    );
    forge(&broker, &topic, Some(b"FORGED-KEY\nFORGED-LINE"), None, &[]);
    forge(
        &broker,
        &topic,
        None,
        Some(b"FORGED-ESC\x1b[2K\rhonest two"),
        &[(b"h", b"\x1b]0;x\x07")],
    );
    produce(d, &broker, &topic, Some("producer.sec"), b"honest two\n");

    let out = consume(d, &proxy.bootstrap, &topic, ("alice", "alice.sec"), 5, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "consume panicked on a forged record: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "honest one\nhonest two\n",
        "{stderr}"
    );
    assert!(!stderr.contains("FORGED"), "{stderr}");
    assert!(
        stderr.contains("5 record(s)") && stderr.contains("2 opened, 2 refused (Unencrypted 2)"),
        "{stderr}"
    );
}

/// Under policy `optional` (proxy and consumer) anyone holding the channel's public key can seal
/// records that open: `rewrap consume` prints them, but must name each one on stderr as
/// unsigned and count them in its summary, so that a script can tell.
#[test]
#[ignore = "needs a Kafka broker and the proxy binary: make test-kafka"]
fn unsigned_records_under_policy_optional_are_named() {
    let broker = var("REWRAP_KAFKA_BOOTSTRAP");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let topic = format!("cli-unsigned-{:x}", rewrap::now_millis());
    let proxy = granted_world(d, &broker, &topic, &[("REWRAP_PROXY_POLICY", "optional")]);
    produce(d, &broker, &topic, Some("producer.sec"), b"signed one\n");
    produce(
        d,
        &broker,
        &topic,
        None,
        b"forged by anyone with channel.pub\n",
    );

    let out = consume(
        d,
        &proxy.bootstrap,
        &topic,
        ("alice", "alice.sec"),
        2,
        &["--policy", "optional"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "signed one\nforged by anyone with channel.pub\n",
        "{stderr}"
    );
    let named: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("]@") && l.contains(": unsigned"))
        .collect();
    assert_eq!(named.len(), 1, "the unsigned record is not named: {stderr}");
    assert!(
        named[0].starts_with(&format!("rewrap: {topic}[0]@1: unsigned")),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 opened (1 unsigned), 0 refused"),
        "{stderr}"
    );
}
