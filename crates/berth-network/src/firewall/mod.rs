//! NAT, published ports and isolation for berth's bridge networks, as one nftables
//! table per daemon (family `inet`, named by the daemon: `berth`, `berth-<test>`, ...).
//!
//! The daemon computes the whole [`Desired`] state and [`Firewall::apply`] replaces the
//! table in one `nft -f -` batch (`add table` + `delete table` + `table { ... }`), so
//! the kernel sees either the old or the new table, never a half-written one. The
//! script comes from [`Firewall::render`]; its layout is described in [`render`] and
//! pinned by the golden files in `tests/golden/`.
//!
//! A packet must be accepted by every base chain on a hook, so berth's own table cannot
//! undo the `policy drop` that a dockerd running beside berth puts on iptables-nft's
//! `FORWARD` chain. Like Docker's `DOCKER-USER` convention, berth therefore also puts
//! two plain accept rules per bridge at the top of `DOCKER-USER` (or `FORWARD`) in
//! `table ip filter` / `table ip6 filter` when those exist (see `iptables.rs`). They are
//! broad on purpose: every drop (isolation, internal networks, unsolicited inbound
//! traffic, icc) lives in berth's table, and a drop there wins over an accept anywhere.

mod iptables;
mod nft;
pub mod render;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use self::iptables::FilterTable;
use self::nft::{Nft, NftFailure};

/// The nft binary berth runs; netavark's nftables driver shells out the same way.
pub const DEFAULT_NFT: &str = "/usr/sbin/nft";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// The protocol's name in nft (and in Docker's `8080/tcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// One bridge network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub bridge: String,
    pub subnets: Vec<ipnet::IpNet>,
    /// `com.docker.network.bridge.enable_ip_masquerade`.
    pub masquerade: bool,
    /// `docker network create --internal`: nothing enters or leaves the bridge.
    pub internal: bool,
    /// `com.docker.network.bridge.enable_icc`: containers on the bridge reach each other.
    pub icc: bool,
}

/// One published port (the caller expands port ranges, one rule per port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortRule {
    pub proto: Proto,
    /// `None` (or `0.0.0.0` / `::`) publishes on every local address of the
    /// container address's family.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
    pub bridge: String,
}

/// Everything the firewall should hold for one daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Desired {
    pub networks: Vec<NetworkRules>,
    pub ports: Vec<PortRule>,
    /// The kernel DNATs 127.0.0.0/8 too (the daemon's `--userland-proxy=false`; it sets
    /// `route_localnet=1` on the bridges). `false` leaves loopback to a userland proxy.
    /// `::1` is never DNATed: IPv6 has no `route_localnet`, Docker proxies it as well.
    pub loopback_dnat: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// nft refused the batch (it changed nothing) or a listing.
    #[error("nft: {op} table inet {table}: {stderr}")]
    Nft {
        op: &'static str,
        table: String,
        stderr: String,
    },
    #[error("nft: {op} table inet {table}: run {}: {source}", nft.display())]
    Exec {
        op: &'static str,
        table: String,
        nft: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nft: {op} table inet {table}: unexpected output of nft {args}: {reason}")]
    Output {
        op: &'static str,
        table: String,
        args: String,
        reason: String,
    },
    /// Refused before running nft: the name would not stay one token in the script.
    #[error("firewall: table inet {table}: invalid {what} name {name:?}: {reason}")]
    InvalidName {
        table: String,
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    /// [`Firewall::remove`] goes on after a failure and reports every one.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<FirewallError>),
}

/// berth's nftables table of one daemon.
#[derive(Debug, Clone)]
pub struct Firewall {
    table: String,
    nft: Nft,
}

impl Firewall {
    pub fn new(table: &str) -> Firewall {
        let nft = if Path::new(DEFAULT_NFT).exists() {
            DEFAULT_NFT
        } else {
            "nft"
        };
        Firewall::with_nft(table, nft)
    }

    /// The same with another nft binary (tests, distributions with nft elsewhere).
    pub fn with_nft(table: &str, nft: impl Into<PathBuf>) -> Firewall {
        Firewall {
            table: table.to_owned(),
            nft: Nft::new(nft.into()),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The comment that marks berth's rules in the iptables-nft filter tables.
    pub fn comment(&self) -> String {
        format!("berth:{}", self.table)
    }

    /// The script that replaces the table with `d` (deterministic: networks, ports
    /// and subnets are sorted). It does not touch the iptables-nft tables, whose
    /// rules [`Firewall::apply`] adds to the same batch from the live ruleset.
    pub fn render(&self, d: &Desired) -> String {
        render::render(&self.table, d)
    }

    /// Replaces the table with `d` and re-syncs the accept rules in `DOCKER-USER` /
    /// `FORWARD` for exactly the bridges of `d`, all in one nft transaction.
    pub fn apply(&self, d: &Desired) -> Result<(), FirewallError> {
        const OP: &str = "apply";
        self.check_names(d)?;
        let table_script = self.render(d);
        let (v4, v6) = iptables::bridges(d);
        let comment = self.comment();
        // The handles of our old rules come from a listing; a dockerd editing the same
        // chain between the listing and the batch can make a handle stale. The batch
        // then fails as a whole, so list again and retry once.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let filters = self.filter_tables(OP)?;
            let sync = iptables::sync_script(&filters, &v4, &v6, &comment);
            let script = format!("{table_script}{sync}");
            match self.nft.run_script(&script) {
                Ok(()) => {
                    tracing::debug!(table = %self.table, "firewall applied");
                    return Ok(());
                }
                Err(e) if attempt == 1 && !sync.is_empty() => {
                    tracing::debug!(table = %self.table, error = ?e, "firewall batch failed, retrying with a fresh listing");
                }
                Err(e) => return Err(self.error(OP, e, "nft -f -")),
            }
        }
    }

    /// Deletes the table (absent is fine) and berth's accept rules for it in the
    /// iptables-nft filter tables. Goes on after a failure and reports all of them.
    pub fn remove(&self) -> Result<(), FirewallError> {
        const OP: &str = "remove";
        self.check_table_name()?;
        let mut errors = Vec::new();
        // `add` first makes `delete` succeed when the table is absent, atomically.
        let script = format!(
            "add table inet {t}\ndelete table inet {t}\n",
            t = self.table
        );
        if let Err(e) = self.nft.run_script(&script) {
            errors.push(self.error(OP, e, "nft -f -"));
        }
        let comment = self.comment();
        for attempt in 1..=2 {
            let filters = match self.filter_tables(OP) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(e);
                    break;
                }
            };
            let script = iptables::sync_script(&filters, &[], &[], &comment);
            if script.is_empty() {
                break;
            }
            match self.nft.run_script(&script) {
                Ok(()) => break,
                Err(_) if attempt == 1 => continue,
                Err(e) => errors.push(self.error(OP, e, "nft -f -")),
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(FirewallError::Several(errors)),
        }
    }

    /// `table ip filter` and `table ip6 filter`, those that exist.
    fn filter_tables(&self, op: &'static str) -> Result<Vec<FilterTable>, FirewallError> {
        let tables_args = ["-j", "list", "tables"];
        let tables = self
            .nft
            .list_json(&tables_args)
            .map_err(|e| self.error(op, e, &tables_args.join(" ")))?;
        let present = iptables::filter_families(&tables)
            .map_err(|reason| self.output_error(op, &tables_args, reason))?;
        let mut out = Vec::new();
        for family in present {
            let args = ["-j", "list", "table", family.as_str(), "filter"];
            let listing = self
                .nft
                .list_json(&args)
                .map_err(|e| self.error(op, e, &args.join(" ")))?;
            let table = FilterTable::parse(family, &listing, &self.comment())
                .map_err(|reason| self.output_error(op, &args, reason))?;
            out.push(table);
        }
        Ok(out)
    }

    fn check_names(&self, d: &Desired) -> Result<(), FirewallError> {
        self.check_table_name()?;
        let bridges = d
            .networks
            .iter()
            .map(|n| &n.bridge)
            .chain(d.ports.iter().map(|p| &p.bridge));
        for bridge in bridges {
            if let Err(reason) = check_ifname(bridge) {
                return Err(FirewallError::InvalidName {
                    table: self.table.clone(),
                    what: "bridge",
                    name: bridge.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    fn check_table_name(&self) -> Result<(), FirewallError> {
        check_table_name(&self.table).map_err(|reason| FirewallError::InvalidName {
            table: self.table.clone(),
            what: "table",
            name: self.table.clone(),
            reason,
        })
    }

    fn error(&self, op: &'static str, e: NftFailure, args: &str) -> FirewallError {
        match e {
            NftFailure::Exec(source) => FirewallError::Exec {
                op,
                table: self.table.clone(),
                nft: self.nft.path().to_owned(),
                source,
            },
            NftFailure::Refused(stderr) => FirewallError::Nft {
                op,
                table: self.table.clone(),
                stderr,
            },
            NftFailure::BadJson(reason) => FirewallError::Output {
                op,
                table: self.table.clone(),
                args: args.to_owned(),
                reason,
            },
        }
    }

    fn output_error(&self, op: &'static str, args: &[&str], reason: String) -> FirewallError {
        FirewallError::Output {
            op,
            table: self.table.clone(),
            args: args.join(" "),
            reason,
        }
    }
}

/// nft has no escapes in quoted strings and reads a trailing `*` as a wildcard, so a
/// name must stay plain. The length (IFNAMSIZ) is left to nft, which refuses 16+.
fn check_ifname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err("only ASCII letters, digits, '-', '_' and '.' are allowed");
    }
    Ok(())
}

/// An unquoted nft identifier (nft does not accept quoted table names).
fn check_table_name(name: &str) -> Result<(), &'static str> {
    match name.bytes().next() {
        None => Err("empty"),
        Some(b) if !b.is_ascii_alphabetic() => Err("must start with an ASCII letter"),
        _ if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            Err("only ASCII letters, digits, '-', '_' and '.' are allowed")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_break_the_script_are_refused() {
        assert!(check_ifname("br-1a2b3c4d5e6f").is_ok());
        assert!(check_ifname("docker0").is_ok());
        for bad in ["", "br\"x", "br x", "br*", "br\\", "br\n", "br;", "brü"] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
        assert!(check_table_name("berth").is_ok());
        assert!(check_table_name("berth-test_1.a").is_ok());
        for bad in ["", "1berth", "-x", "a b", "a\"", "a/b"] {
            assert!(check_table_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn apply_refuses_a_quote_before_running_nft() {
        let fw = Firewall::with_nft("berth-x", "/nonexistent/nft");
        let d = Desired {
            networks: vec![NetworkRules {
                bridge: "br\"0".into(),
                subnets: vec![],
                masquerade: true,
                internal: false,
                icc: true,
            }],
            ..Desired::default()
        };
        let err = fw.apply(&d).unwrap_err();
        assert_eq!(
            err.to_string(),
            "firewall: table inet berth-x: invalid bridge name \"br\\\"0\": only ASCII letters, digits, '-', '_' and '.' are allowed"
        );
    }

    #[test]
    fn errors_name_the_table_and_carry_nft_stderr() {
        let e = FirewallError::Nft {
            op: "apply",
            table: "berth-x".into(),
            stderr: "Error: syntax error".into(),
        };
        assert_eq!(
            e.to_string(),
            "nft: apply table inet berth-x: Error: syntax error"
        );
        let fw = Firewall::with_nft("berth-x", "/nonexistent/nft");
        let e = fw.remove().unwrap_err();
        assert!(
            e.to_string()
                .starts_with("nft: remove table inet berth-x: run /nonexistent/nft: "),
            "{e}"
        );
    }
}
