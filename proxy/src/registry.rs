//! Following the Kafka grant registry: a compacted topic of signed grants, revocations and
//! producer grants (`rewrap::registry`). Each proxy reads it from the beginning at start (and
//! waits, up to a bound, until it has caught up), then follows it live on its own thread.
//! Every record is checked as if an attacker wrote it; ignored ones are counted in
//! `rewrap_registry_records_ignored{reason}` and the first of each reason is logged.

use anyhow::{bail, Context, Result};
use metrics::counter;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use rewrap::registry::{Ignored, RegistryFollower, DEFAULT_REGISTRY_TOPIC};
use rewrap::ReEncryptor;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the registry is and how to read it.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Bootstrap servers of the cluster holding the registry topic.
    pub bootstrap: String,
    /// The registry topic (default `__rewrap_grants`).
    #[serde(default)]
    pub topic: Option<String>,
    /// The share of threshold grants this proxy takes (its index among the re-encryptors);
    /// without it only grants of threshold 1 are taken.
    #[serde(default)]
    pub share: Option<u8>,
    /// More librdkafka properties for the registry connection (TLS, SASL...).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// How long the start waits to catch up with the registry (default 30 s).
    #[serde(default)]
    pub catch_up_secs: Option<u64>,
}

/// The registry being followed: which (consumer, topic) pairs hold grants.
pub type Pairs = BTreeMap<String, BTreeSet<String>>;

fn pairs(follower: &RegistryFollower) -> Pairs {
    let mut out = Pairs::new();
    for (consumer, topic) in follower.granted() {
        out.entry(consumer.to_string())
            .or_default()
            .insert(topic.to_string());
    }
    out
}

struct Follow {
    consumer: BaseConsumer,
    topic: String,
    /// Partitions assigned (the topic may grow: checked every `PARTITION_CHECK`).
    partitions: BTreeSet<i32>,
    follower: RegistryFollower,
    /// Reasons already logged once.
    logged: BTreeSet<&'static str>,
    applied: u64,
}

/// How often the follower looks for partitions added to the registry topic.
const PARTITION_CHECK: Duration = Duration::from_secs(5);

fn partitions_of(consumer: &BaseConsumer, topic: &str) -> Result<BTreeSet<i32>> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("registry topic {topic} metadata"))?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect())
}

impl Follow {
    /// Assigns partitions added since the last look, from their beginning, keeping the
    /// others where they are.
    fn grow(&mut self) {
        let found = match partitions_of(&self.consumer, &self.topic) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "rewrap grant registry: metadata unavailable");
                return;
            }
        };
        if found.is_subset(&self.partitions) {
            return;
        }
        let Ok(mut assignment) = self.consumer.position() else {
            return;
        };
        for &p in found.difference(&self.partitions) {
            if assignment
                .add_partition_offset(&self.topic, p, Offset::Beginning)
                .is_err()
            {
                return;
            }
        }
        match self.consumer.assign(&assignment) {
            Ok(()) => {
                tracing::info!(
                    topic = %self.topic,
                    partitions = found.len(),
                    "rewrap grant registry: new partitions followed"
                );
                self.partitions = found;
            }
            Err(e) => {
                tracing::warn!(error = %e, "rewrap grant registry: cannot assign new partitions")
            }
        }
    }

    /// Applies what one poll returns; true when something was applied.
    fn poll(&mut self, wait: Duration) -> bool {
        let Some(result) = self.consumer.poll(wait) else {
            return false;
        };
        let message = match result {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "rewrap grant registry: read failed; retrying");
                return false;
            }
        };
        let key = message.key().unwrap_or_default();
        match self.follower.apply(key, message.payload()) {
            Ok(()) => {
                self.applied += 1;
                counter!("rewrap_registry_records_applied").increment(1);
                true
            }
            Err(why) => {
                counter!("rewrap_registry_records_ignored", "reason" => why.name()).increment(1);
                if self.logged.insert(why.name()) {
                    let detail = match &why {
                        Ignored::Refused(e) => e.clone(),
                        _ => String::new(),
                    };
                    tracing::warn!(
                        reason = why.name(),
                        detail,
                        key = %String::from_utf8_lossy(key),
                        offset = message.offset(),
                        "rewrap grant registry record ignored (logged once per reason; counted in rewrap_registry_records_ignored)"
                    );
                }
                false
            }
        }
    }
}

/// Connects to the registry, assigns every partition of its topic from the beginning and
/// reads until caught up (or the bound passes); then follows it on a thread, calling
/// `publish` with the granted pairs after every change.
pub fn follow(
    config: &RegistryConfig,
    target: Arc<ReEncryptor>,
    publish: impl Fn(Pairs) + Send + 'static,
) -> Result<()> {
    let topic = config
        .topic
        .clone()
        .unwrap_or_else(|| DEFAULT_REGISTRY_TOPIC.to_string());
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.bootstrap)
        .set("group.id", "rewrap-proxy-registry")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (k, v) in &config.properties {
        client.set(k, v);
    }
    let consumer: BaseConsumer = client.create().context("registry consumer")?;
    let timeout = Duration::from_secs(10);
    let partitions = partitions_of(&consumer, &topic)?;
    if partitions.is_empty() {
        bail!("grant registry topic {topic} does not exist (create it: rewrap grant --registry ... --create-registry)");
    }
    let mut assignment = TopicPartitionList::new();
    let mut high = BTreeMap::new();
    for &p in &partitions {
        assignment.add_partition_offset(&topic, p, Offset::Beginning)?;
        let (_, hi) = consumer.fetch_watermarks(&topic, p, timeout)?;
        high.insert(p, hi);
    }
    consumer.assign(&assignment)?;
    let mut follow = Follow {
        consumer,
        topic: topic.clone(),
        partitions: partitions.clone(),
        follower: RegistryFollower::new(target, config.share),
        logged: BTreeSet::new(),
        applied: 0,
    };
    let deadline = Instant::now() + Duration::from_secs(config.catch_up_secs.unwrap_or(30));
    loop {
        let position = follow.consumer.position().ok();
        let caught_up = high.iter().all(|(&p, &hi)| {
            hi == 0
                || position
                    .as_ref()
                    .and_then(|pos| pos.find_partition(&topic, p))
                    .and_then(|e| e.offset().to_raw())
                    .is_some_and(|at| at >= hi)
        });
        if caught_up {
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!(topic, "rewrap grant registry: not caught up at start; serving what was read and following");
            break;
        }
        follow.poll(Duration::from_millis(200));
    }
    tracing::info!(
        topic,
        applied = follow.applied,
        pairs = follow.follower.granted().count(),
        share = ?config.share,
        "rewrap grant registry loaded"
    );
    publish(pairs(&follow.follower));
    std::thread::Builder::new()
        .name("rewrap-registry".into())
        .spawn(move || {
            let mut checked = Instant::now();
            loop {
                if checked.elapsed() >= PARTITION_CHECK {
                    follow.grow();
                    checked = Instant::now();
                }
                if follow.follower.retry_due() > 0 {
                    publish(pairs(&follow.follower));
                    tracing::info!("rewrap grant registry: a grant became valid");
                }
                if follow.poll(Duration::from_millis(500)) {
                    // Drain what is already there before publishing once.
                    while follow.poll(Duration::ZERO) {}
                    publish(pairs(&follow.follower));
                    tracing::info!(
                        applied = follow.applied,
                        pairs = follow.follower.granted().count(),
                        "rewrap grant registry changed"
                    );
                }
            }
        })
        .context("starting the registry follower")?;
    Ok(())
}
