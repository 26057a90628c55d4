//! The files docker generates for each container: `/etc/hostname`, `/etc/hosts`,
//! `/etc/resolv.conf`.

use std::path::Path;

pub fn write_hostname(dir: &Path, hostname: &str) -> std::io::Result<()> {
    std::fs::write(dir.join("hostname"), format!("{hostname}\n"))
}

/// `/etc/hosts` as docker writes it: localhost, `--add-host` entries, then `own` lines
/// (`ip\tnames`: links and the container's own addresses).
pub fn write_hosts(dir: &Path, extra: &[String], own: &[String]) -> std::io::Result<()> {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for entry in extra {
        // `--add-host name:ip` is written `ip\tname`.
        if let Some((name, ip)) = entry.split_once(':').or_else(|| entry.split_once('=')) {
            s.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    for line in own {
        s.push_str(line);
        s.push('\n');
    }
    std::fs::write(dir.join("hosts"), s)
}

/// The host's resolv.conf without loopback name servers (unreachable from a container),
/// falling back to public resolvers as docker does; `--dns`/`--dns-search`/`--dns-option`
/// replace the matching lines.
pub fn write_resolv_conf(
    dir: &Path,
    dns: &[String],
    search: &[String],
    options: &[String],
    host_network: bool,
) -> std::io::Result<()> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    let mut servers = 0;
    for line in host.lines() {
        let l = line.trim();
        if let Some(ns) = l.strip_prefix("nameserver") {
            let ns = ns.trim();
            if !dns.is_empty() {
                continue;
            }
            if !host_network && (ns.starts_with("127.") || ns == "::1") {
                continue;
            }
            servers += 1;
        } else if (l.starts_with("search") && !search.is_empty())
            || (l.starts_with("options") && !options.is_empty())
        {
            continue;
        }
        lines.push(line.to_string());
    }
    for ns in dns {
        lines.push(format!("nameserver {ns}"));
    }
    if dns.is_empty() && servers == 0 {
        lines.push("nameserver 8.8.8.8".into());
        lines.push("nameserver 8.8.4.4".into());
    }
    if !search.is_empty() {
        lines.push(format!("search {}", search.join(" ")));
    }
    if !options.is_empty() {
        lines.push(format!("options {}", options.join(" ")));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.join("resolv.conf"), text)
}

/// resolv.conf of a container on a user-defined network: the embedded DNS server at
/// 127.0.0.11 (it forwards to the host's resolvers), the host's search domains, `ndots:0`.
pub fn write_resolv_conf_internal(
    dir: &Path,
    search: &[String],
    options: &[String],
) -> std::io::Result<()> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut lines = vec!["nameserver 127.0.0.11".to_string()];
    if search.is_empty() {
        lines.extend(
            host.lines()
                .filter(|l| l.trim_start().starts_with("search"))
                .map(String::from),
        );
    } else {
        lines.push(format!("search {}", search.join(" ")));
    }
    let mut opts = vec!["ndots:0".to_string()];
    opts.extend(options.iter().filter(|o| !o.starts_with("ndots:")).cloned());
    if let Some(n) = options.iter().find(|o| o.starts_with("ndots:")) {
        opts[0] = n.clone();
    }
    lines.push(format!("options {}", opts.join(" ")));
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.join("resolv.conf"), text)
}
