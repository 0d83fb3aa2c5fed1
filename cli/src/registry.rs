//! The Kafka grant registry as a `GrantStore`: a compacted topic every proxy follows
//! (`rewrap::registry` names its records). Writes wait for every in-sync replica; reads
//! take the topic from the beginning to its end, keeping the last record per key (what
//! compaction keeps), except that tombstones count only for producer grants: the proxies
//! ignore a tombstone over a grant or a revocation, and so does this listing.

use clap::Args;
use rewrap::GrantStore;

/// Where the registry is (given instead of `--store`).
#[derive(Args, Clone, Debug)]
pub struct RegistryArgs {
    /// Kafka bootstrap servers of the grant registry (instead of --store).
    #[arg(long, conflicts_with = "store")]
    pub registry: Option<String>,
    /// The registry topic.
    #[arg(long, default_value = rewrap::registry::DEFAULT_REGISTRY_TOPIC, requires = "registry")]
    pub registry_topic: String,
    /// Create the registry topic (cleanup.policy=compact) if it does not exist.
    #[arg(long, requires = "registry")]
    pub create_registry: bool,
    /// Replication factor of a registry topic created here.
    #[arg(long, default_value_t = 1, requires = "create_registry")]
    pub replication_factor: i32,
    /// More librdkafka properties for the registry connection (KEY=VALUE, repeatable),
    /// e.g. security.protocol=SASL_SSL.
    #[arg(long = "registry-property", value_parser = key_value, requires = "registry")]
    pub properties: Vec<(String, String)>,
}

pub(crate) fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// The registry the arguments name.
pub fn open(args: &RegistryArgs) -> Result<Box<dyn GrantStore>, Box<dyn std::error::Error>> {
    let bootstrap = args.registry.as_deref().ok_or("no --registry given")?;
    imp::open(bootstrap, args)
}

#[cfg(not(feature = "kafka"))]
mod imp {
    use super::RegistryArgs;
    use rewrap::GrantStore;

    pub fn open(
        _bootstrap: &str,
        _args: &RegistryArgs,
    ) -> Result<Box<dyn GrantStore>, Box<dyn std::error::Error>> {
        Err("this rewrap was built without Kafka support (cargo feature `kafka`)".into())
    }
}

#[cfg(feature = "kafka")]
mod imp {
    use super::RegistryArgs;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::types::RDKafkaErrorCode;
    use rdkafka::{Offset, TopicPartitionList};
    use rewrap::engine::{Grant, KeyId, ProducerGrant, Revocation};
    use rewrap::registry::{self, Entry};
    use rewrap::{GrantStore, Snapshot, StoreError};
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    const TIMEOUT: Duration = Duration::from_secs(30);

    pub struct KafkaRegistry {
        config: ClientConfig,
        topic: String,
    }

    fn remote(e: impl std::fmt::Display) -> StoreError {
        StoreError::Remote(e.to_string())
    }

    pub fn open(
        bootstrap: &str,
        args: &RegistryArgs,
    ) -> Result<Box<dyn GrantStore>, Box<dyn std::error::Error>> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", bootstrap);
        for (k, v) in &args.properties {
            config.set(k, v);
        }
        let registry = KafkaRegistry {
            config,
            topic: args.registry_topic.clone(),
        };
        if args.create_registry {
            registry.create(args.replication_factor)?;
        }
        Ok(Box::new(registry))
    }

    impl KafkaRegistry {
        fn create(&self, replication: i32) -> Result<(), StoreError> {
            let admin: AdminClient<DefaultClientContext> = self.config.create().map_err(remote)?;
            let topic = NewTopic::new(&self.topic, 1, TopicReplication::Fixed(replication))
                .set("cleanup.policy", "compact");
            let results = futures_executor::block_on(admin.create_topics(
                [&topic],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            ))
            .map_err(remote)?;
            for result in results {
                match result {
                    Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((name, code)) => return Err(remote(format!("creating {name}: {code}"))),
                }
            }
            Ok(())
        }

        /// Writes records (a `None` value is a tombstone) and waits for every acknowledgement.
        fn publish(&self, records: &[(String, Option<Vec<u8>>)]) -> Result<(), StoreError> {
            let producer: BaseProducer = self
                .config
                .clone()
                .set("acks", "all")
                .set("enable.idempotence", "true")
                .create()
                .map_err(remote)?;
            for (key, value) in records {
                let mut record = BaseRecord::to(&self.topic).key(key.as_bytes());
                if let Some(v) = value {
                    record = record.payload(v.as_slice());
                }
                producer.send(record).map_err(|(e, _)| remote(e))?;
            }
            producer.flush(TIMEOUT).map_err(remote)?;
            // A delivery failure after the flush (e.g. no such topic) shows in the counters
            // only as records still in flight; flush returning Ok means all were acknowledged.
            Ok(())
        }

        /// The last record of every key, reading the topic to its end.
        fn read_all(&self) -> Result<BTreeMap<String, Option<Vec<u8>>>, StoreError> {
            let consumer: BaseConsumer = self
                .config
                .clone()
                .set("group.id", "rewrap-cli-registry")
                .set("enable.auto.commit", "false")
                .create()
                .map_err(remote)?;
            let metadata = consumer
                .fetch_metadata(Some(&self.topic), TIMEOUT)
                .map_err(remote)?;
            let partitions: Vec<i32> = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == self.topic && t.error().is_none())
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect();
            if partitions.is_empty() {
                return Err(remote(format!(
                    "topic {} does not exist (--create-registry creates it)",
                    self.topic
                )));
            }
            let mut assignment = TopicPartitionList::new();
            let mut high = BTreeMap::new();
            for &p in &partitions {
                assignment
                    .add_partition_offset(&self.topic, p, Offset::Beginning)
                    .map_err(remote)?;
                high.insert(
                    p,
                    consumer
                        .fetch_watermarks(&self.topic, p, TIMEOUT)
                        .map_err(remote)?
                        .1,
                );
            }
            consumer.assign(&assignment).map_err(remote)?;
            let mut latest = BTreeMap::new();
            let mut next: BTreeMap<i32, i64> = partitions.iter().map(|&p| (p, 0)).collect();
            let deadline = Instant::now() + TIMEOUT;
            while next.iter().any(|(p, at)| *at < high[p]) {
                if Instant::now() >= deadline {
                    return Err(remote("timed out reading the registry"));
                }
                let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let message = message.map_err(remote)?;
                next.insert(message.partition(), message.offset() + 1);
                let key = String::from_utf8_lossy(message.key().unwrap_or_default()).to_string();
                let value = message.payload().map(<[u8]>::to_vec);
                if value.is_none() && !key.starts_with("producer/") {
                    // As the proxies do: only a signed record changes a grant or revocation.
                    continue;
                }
                latest.insert(key, value);
            }
            Ok(latest)
        }
    }

    impl GrantStore for KafkaRegistry {
        fn put_grant(&self, grant: &Grant) -> Result<Vec<String>, StoreError> {
            let records = registry::grant_records(grant)?;
            let keys = records.iter().map(|(k, _)| k.clone()).collect();
            let records: Vec<_> = records.into_iter().map(|(k, v)| (k, Some(v))).collect();
            self.publish(&records)?;
            Ok(keys)
        }

        fn put_revocation(&self, revocation: &Revocation) -> Result<Vec<String>, StoreError> {
            let (key, value) = registry::revocation_record(revocation);
            self.publish(&[(key.clone(), Some(value))])?;
            Ok(vec![key])
        }

        fn put_producer(&self, grant: &ProducerGrant) -> Result<String, StoreError> {
            let (key, value) = registry::producer_record(grant);
            self.publish(&[(key.clone(), Some(value))])?;
            Ok(key)
        }

        fn withdraw_producer(
            &self,
            topic: &str,
            producer: Option<&KeyId>,
        ) -> Result<usize, StoreError> {
            let mut tombstones = Vec::new();
            for (key, value) in self.read_all()? {
                if value.is_none() {
                    continue;
                }
                if let Ok(Entry::Producer(g)) = registry::parse(key.as_bytes(), value.as_deref()) {
                    if g.topic() == topic && producer.is_none_or(|p| *p == g.producer().key_id()) {
                        tombstones.push((key, None));
                    }
                }
            }
            self.publish(&tombstones)?;
            Ok(tombstones.len())
        }

        fn snapshot(&self) -> Result<Snapshot, StoreError> {
            let mut snapshot = Snapshot::default();
            for (key, value) in self.read_all()? {
                let Some(value) = value else { continue };
                match key.split('/').next() {
                    Some("grant") => snapshot.grants.push((key, Grant::from_bytes(&value))),
                    Some("revocation") => snapshot
                        .revocations
                        .push((key, Revocation::from_bytes(&value))),
                    Some("producer") => snapshot
                        .producers
                        .push((key, ProducerGrant::from_bytes(&value))),
                    _ => {}
                }
            }
            Ok(snapshot)
        }
    }
}
