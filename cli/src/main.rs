//! `rewrap`: the administrator's tool (keys, consumer and producer grants, revocation, record
//! inspection), console producer and consumer, and the in-process demo of the whole flow.

mod admin;
mod console;
mod demo;
#[cfg(feature = "kafka")]
mod demo_kafka;
mod registry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rewrap",
    version,
    about = "Delegated access control and encryption for Kafka streams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the seed scenario in one process: 3 producers, a re-encryptor, 3 consumers.
    Demo {
        /// Messages in the first phase (split over the three producers).
        #[arg(long, default_value_t = 3000)]
        messages: usize,
        /// Key mode: `producer` (EDEKs under each producer's key) or `channel`.
        #[arg(long, default_value = "producer")]
        mode: demo::Mode,
        /// Run against this Kafka broker (producers write here) instead of in one process;
        /// needs --proxy, --store and --admin and a build with `--features kafka`.
        #[arg(long, requires_all = ["proxy", "store", "admin"])]
        broker: Option<String>,
        /// The rewrap proxy in front of --broker (consumers read here).
        #[arg(long, requires = "broker")]
        proxy: Option<String>,
        /// The grant store directory the proxy follows.
        #[arg(long, requires = "broker")]
        store: Option<PathBuf>,
        /// Administrator secret key file; the proxy must trust its public key.
        #[arg(long, requires = "broker")]
        admin: Option<PathBuf>,
    },
    /// Generate a key pair: PREFIX.sec (mode 0600) and PREFIX.pub.
    Keygen {
        /// Path prefix of the two files.
        #[arg(required_unless_present = "signer", conflicts_with = "signer")]
        prefix: Option<PathBuf>,
        /// Generate a producer signing key pair at this path prefix (authorize it with
        /// `rewrap grant --producer PREFIX.pub`).
        #[arg(long, value_name = "PREFIX", conflicts_with = "master_seed")]
        signer: Option<PathBuf>,
        /// Derive a channel key from this 32-byte master seed file (hex) instead of a random key.
        #[arg(long, requires = "topic")]
        master_seed: Option<PathBuf>,
        /// Topic (channel) to derive the channel key for (with --master-seed); `--channel` is
        /// accepted as an alias.
        #[arg(long, alias = "channel")]
        topic: Option<String>,
    },
    /// Grant a consumer a topic under a delegating key, or (--producer) authorize a producer
    /// signing key on a topic, writing the grant to the store.
    Grant(admin::GrantArgs),
    /// Revoke every grant of a consumer on a topic issued until now (a signed revocation that
    /// re-encryptors honour even if a copy of the grant comes back), or a producer's grant
    /// (--producer).
    Revoke {
        #[command(flatten)]
        place: admin::Place,
        /// Administrator secret key file (signs the revocation of a consumer).
        #[arg(long, required_unless_present = "producer")]
        admin: Option<PathBuf>,
        /// Revoke only the grants under this delegating public key file (default: all).
        #[arg(long, conflicts_with = "producer")]
        delegating_key: Option<PathBuf>,
        /// Topic (the channel); `--channel` is accepted as an alias.
        #[arg(long, alias = "channel")]
        topic: String,
        /// Consumer id.
        #[arg(
            long,
            required_unless_present = "producer",
            conflicts_with = "producer"
        )]
        consumer: Option<String>,
        /// Producer signing public key file.
        #[arg(long)]
        producer: Option<PathBuf>,
    },
    /// Print the channel signing key a proxy derives from its channel signing seed for a
    /// topic (what consumers trust in place of producer grants).
    ChannelKey {
        /// The proxy's `channel_signing_seed` file (64 hex characters).
        #[arg(long)]
        seed: PathBuf,
        /// Topic (the channel); `--channel` is accepted as an alias.
        #[arg(long, alias = "channel")]
        topic: String,
        /// Also write the key to this public key file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the consumer and producer grants in a store, verifying them if the administrator
    /// key is given.
    List {
        #[command(flatten)]
        place: admin::Place,
        /// Administrator public key file to verify against.
        #[arg(long)]
        admin_pub: Option<PathBuf>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Seal each line of stdin into a record on a topic (needs `--features kafka`).
    Produce(console::ProduceArgs),
    /// Read a topic through the rewrap proxy and print each record opened, one per line;
    /// records that cannot be opened are named on stderr and make the exit status 1 (needs
    /// `--features kafka`).
    Consume(console::ConsumeArgs),
    /// Describe a record's value and rewrap headers (hex), without any key.
    Inspect {
        /// Record value, hex.
        #[arg(long)]
        value: Option<String>,
        /// `rewrap.edek` header value, hex.
        #[arg(long)]
        edek: Option<String>,
        /// `rewrap.sig` header value, hex.
        #[arg(long)]
        sig: Option<String>,
        /// `rewrap.cfrag` header value(s), hex.
        #[arg(long)]
        cfrag: Vec<String>,
    },
}

#[cfg(feature = "kafka")]
fn kafka_demo(
    messages: usize,
    mode: demo::Mode,
    broker: &str,
    proxy: Option<String>,
    store: Option<PathBuf>,
    admin: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (Some(proxy), Some(store), Some(admin)) = (proxy, store, admin) else {
        return Err("--broker needs --proxy, --store and --admin".into());
    };
    let target = demo_kafka::Target {
        broker,
        proxy: &proxy,
        store: &store,
        admin: &admin,
    };
    demo_kafka::run(messages, mode, &target)
}

#[cfg(not(feature = "kafka"))]
fn kafka_demo(
    _: usize,
    _: demo::Mode,
    _: &str,
    _: Option<String>,
    _: Option<PathBuf>,
    _: Option<PathBuf>,
) -> Result<(), Box<dyn std::error::Error>> {
    Err(
        "this rewrap was built without Kafka support: cargo build -p rewrap-cli --features kafka"
            .into(),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo {
            messages,
            mode,
            broker: None,
            ..
        } => demo::run(messages, mode),
        Command::Demo {
            messages,
            mode,
            broker: Some(broker),
            proxy,
            store,
            admin,
        } => kafka_demo(messages, mode, &broker, proxy, store, admin),
        Command::Keygen {
            prefix,
            signer,
            master_seed,
            topic,
        } => match signer.as_ref().or(prefix.as_ref()) {
            Some(path) => admin::keygen(
                path,
                master_seed.as_deref(),
                topic.as_deref(),
                signer.is_some(),
            ),
            None => Err("keygen needs PREFIX or --signer PREFIX".into()),
        },
        Command::Grant(args) => admin::grant(&args),
        Command::Revoke {
            place,
            admin,
            delegating_key,
            topic,
            consumer,
            producer,
        } => match (&consumer, &producer, &admin) {
            (_, Some(key), _) => admin::revoke(&place, &topic, admin::Revoked::Producer(key)),
            (Some(c), None, Some(admin)) => admin::revoke(
                &place,
                &topic,
                admin::Revoked::Consumer {
                    consumer: c,
                    admin,
                    delegating_key: delegating_key.as_deref(),
                },
            ),
            (Some(_), None, None) => Err("revoking a consumer needs --admin (it is signed)".into()),
            (None, None, _) => Err("revoke needs --consumer or --producer".into()),
        },
        Command::ChannelKey { seed, topic, out } => {
            admin::channel_key(&seed, &topic, out.as_deref())
        }
        Command::List {
            place,
            admin_pub,
            json,
        } => admin::list(&place, admin_pub.as_deref(), json),
        Command::Produce(args) => console::produce(&args),
        Command::Consume(args) => console::consume(&args),
        Command::Inspect {
            value,
            edek,
            sig,
            cfrag,
        } => admin::inspect(value.as_deref(), edek.as_deref(), sig.as_deref(), &cfrag),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rewrap: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks a command's arguments (unique names, valid `requires`) only when that
    /// subcommand is parsed; this checks every one.
    #[test]
    fn every_subcommand_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
