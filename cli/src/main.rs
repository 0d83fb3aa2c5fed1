//! `rewrap`: the administrator's tool (keys, grants, revocation, record inspection) and the
//! in-process demo of the whole flow.

mod admin;
mod demo;
#[cfg(feature = "kafka")]
mod demo_kafka;

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
        prefix: PathBuf,
        /// Derive a channel key from this 32-byte master seed file (hex) instead of a random key.
        #[arg(long, requires = "topic")]
        master_seed: Option<PathBuf>,
        /// Topic (channel) to derive the channel key for (with --master-seed); `--channel` is
        /// accepted as an alias.
        #[arg(long, alias = "channel")]
        topic: Option<String>,
    },
    /// Grant a consumer a topic under a delegating key, writing the grant to the store.
    Grant(admin::GrantArgs),
    /// Revoke every grant of a consumer on a topic.
    Revoke {
        /// Grant store directory.
        #[arg(long)]
        store: PathBuf,
        /// Topic (the channel); `--channel` is accepted as an alias.
        #[arg(long, alias = "channel")]
        topic: String,
        /// Consumer id.
        #[arg(long)]
        consumer: String,
    },
    /// List the grants in a store, verifying them if the administrator key is given.
    List {
        /// Grant store directory.
        #[arg(long)]
        store: PathBuf,
        /// Administrator public key file to verify against.
        #[arg(long)]
        admin_pub: Option<PathBuf>,
    },
    /// Describe a record's value and rewrap headers (hex), without any key.
    Inspect {
        /// Record value, hex.
        #[arg(long)]
        value: Option<String>,
        /// `rewrap.edek` header value, hex.
        #[arg(long)]
        edek: Option<String>,
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
            master_seed,
            topic,
        } => admin::keygen(&prefix, master_seed.as_deref(), topic.as_deref()),
        Command::Grant(args) => admin::grant(&args),
        Command::Revoke {
            store,
            topic,
            consumer,
        } => admin::revoke(&store, &topic, &consumer),
        Command::List { store, admin_pub } => admin::list(&store, admin_pub.as_deref()),
        Command::Inspect { value, edek, cfrag } => {
            admin::inspect(value.as_deref(), edek.as_deref(), &cfrag)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rewrap: {e}");
            ExitCode::FAILURE
        }
    }
}
