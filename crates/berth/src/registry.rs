//! `berth registry serve|gc`: the OCI distribution registry of crate `berth-registry`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use berth_registry::server::{self, gc, AuthConfig, Config, TlsFiles, TokenConfig};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "berth registry",
    about = "Run an image registry (OCI distribution API v2)"
)]
struct Cmd {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry API
    Serve(Box<ServeArgs>),
    /// Remove blobs no manifest references
    Gc(GcArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on
    #[arg(long, value_name = "ip:port", default_value = "0.0.0.0:5000")]
    addr: SocketAddr,
    /// Directory holding blobs, manifests and uploads
    #[arg(long, value_name = "dir", default_value = server::DEFAULT_ROOT)]
    root: PathBuf,
    /// Require basic auth against this htpasswd file (bcrypt entries, `htpasswd -B`)
    #[arg(long, value_name = "file")]
    htpasswd: Option<PathBuf>,
    /// Realm of the basic auth challenge
    #[arg(long, value_name = "name", default_value = "berth-registry")]
    realm: String,
    /// Require bearer tokens, obtained from this URL (with --htpasswd, this server answers
    /// token requests at the URL's path)
    #[arg(long, value_name = "url", requires_all = ["token_service", "token_issuer", "token_key"])]
    token_realm: Option<String>,
    /// Service name tokens are issued for (their audience)
    #[arg(long, value_name = "name", requires = "token_realm")]
    token_service: Option<String>,
    /// Issuer name of tokens
    #[arg(long, value_name = "name", requires = "token_realm")]
    token_issuer: Option<String>,
    /// File holding the secret tokens are signed with (HMAC-SHA256, at least 32 bytes)
    #[arg(long, value_name = "file", requires = "token_realm")]
    token_key: Option<PathBuf>,
    /// Lifetime of issued tokens, in seconds
    #[arg(long, value_name = "seconds", default_value_t = 300)]
    token_expiry: u64,
    /// Serve TLS with this certificate (PEM)
    #[arg(long, value_name = "file", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM)
    #[arg(long, value_name = "file", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log level (error, warn, info, debug)
    #[arg(long, value_name = "level", default_value = "info")]
    log_level: String,
}

#[derive(Debug, Args)]
struct GcArgs {
    /// Directory of the registry
    #[arg(long, value_name = "dir", default_value = server::DEFAULT_ROOT)]
    root: PathBuf,
    /// Only report what would be removed
    #[arg(long)]
    dry_run: bool,
    /// Also remove manifests that no tag reaches
    #[arg(long)]
    delete_untagged: bool,
    /// Keep unreferenced blobs younger than this (e.g. 0s, 90s, 30m, 1h), so that layers
    /// pushed to a running server before their manifest survive
    #[arg(long, value_name = "duration", default_value = "1h", value_parser = parse_duration)]
    grace: Duration,
    /// Remove uploads started longer ago than this (abandoned by their clients)
    #[arg(long, value_name = "duration", default_value = "168h", value_parser = parse_duration)]
    uploads_older_than: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected a number with s, m or h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid duration {s:?}: unit must be s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

pub fn main(argv: &[String]) -> i32 {
    // argv[0] is "registry"; usage lines should read "berth registry ...".
    let args = std::iter::once("berth registry".to_string()).chain(argv.iter().skip(1).cloned());
    let cmd = Cmd::parse_from(args);
    let result = match cmd.command {
        Command::Serve(a) => serve(*a),
        Command::Gc(a) => collect(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("berth registry: {e:#}");
            1
        }
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "{},hyper=warn",
            a.log_level
        )))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let token = match a.token_realm {
        Some(realm) => Some(TokenConfig {
            realm,
            service: a
                .token_service
                .context("--token-realm needs --token-service")?,
            issuer: a
                .token_issuer
                .context("--token-realm needs --token-issuer")?,
            key: a.token_key.context("--token-realm needs --token-key")?,
            expiry_secs: a.token_expiry,
        }),
        None => None,
    };
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let config = Config {
        addr: a.addr,
        root: a.root,
        auth: AuthConfig {
            htpasswd: a.htpasswd,
            realm: a.realm,
            token,
        },
        tls,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    rt.block_on(async move {
        let server = server::Server::bind(config).await?;
        let addr = server.local_addr().context("local address")?;
        tracing::info!("berth registry listening on {addr}");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("install the SIGTERM handler")?;
        tokio::select! {
            _ = server.run() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        Ok(())
    })
}

fn collect(a: GcArgs) -> anyhow::Result<()> {
    let opts = gc::GcOptions {
        root: a.root,
        dry_run: a.dry_run,
        delete_untagged: a.delete_untagged,
        grace: a.grace,
        upload_max_age: a.uploads_older_than,
    };
    let report = gc::collect(&opts).with_context(|| format!("gc of {:?}", opts.root))?;
    let verb = if opts.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for (name, d) in &report.manifests_removed {
        println!("{verb} manifest {name}@{d}");
    }
    for d in &report.blobs_removed {
        println!("{verb} blob {d}");
    }
    for u in &report.uploads_removed {
        println!("{verb} abandoned upload {u}");
    }
    println!(
        "{} manifests, {} blobs and {} uploads {verb} ({} bytes of blobs); {} blobs in use, {} unreferenced kept as younger than {}s",
        report.manifests_removed.len(),
        report.blobs_removed.len(),
        report.uploads_removed.len(),
        report.bytes_freed,
        report.blobs_kept,
        report.blobs_too_young,
        opts.grace.as_secs()
    );
    Ok(())
}
