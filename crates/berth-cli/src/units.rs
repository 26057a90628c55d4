//! docker/go-units: human durations and sizes, and size parsing.

/// go-units HumanDuration.
pub fn human_duration(secs: i64) -> String {
    let s = secs;
    if s < 1 {
        return "Less than a second".into();
    } else if s == 1 {
        return "1 second".into();
    } else if s < 60 {
        return format!("{s} seconds");
    }
    let minutes = s / 60;
    if minutes == 1 {
        return "About a minute".into();
    } else if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (s as f64 / 3600.0).round() as i64;
    if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", s / 3600 / 24 / 365)
    }
}

/// Go's `%.{prec}g`.
pub fn fmt_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", prec.saturating_sub(1), v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let decimals = (prec as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, v))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

fn size_unit(mut size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

const DECIMAL: &[&str] = &["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units HumanSize: "1.23MB" (3 significant digits, decimal units).
pub fn human_size(size: f64) -> String {
    let (s, u) = size_unit(size, 1000.0, DECIMAL);
    format!("{}{u}", fmt_g(s, 3))
}

/// go-units HumanSize: 4 significant digits ("Total reclaimed space", `system df`).
pub fn human_size4(size: f64) -> String {
    let (s, u) = size_unit(size, 1000.0, DECIMAL);
    format!("{}{u}", fmt_g(s, 4))
}

/// go-units BytesSize: "1.934GiB".
pub fn bytes_size(size: f64) -> String {
    let (s, u) = size_unit(size, 1024.0, BINARY);
    format!("{}{u}", fmt_g(s, 4))
}

/// go-units RAMInBytes: "32m" = 32 MiB.
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim_end_matches(['b', 'B']);
    let t = t.strip_suffix(['i', 'I']).unwrap_or(t);
    let (num, mult) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let m: i64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                _ => return Err(bad()),
            };
            (&t[..t.len() - 1], m)
        }
        _ => (t, 1),
    };
    let num = num.strip_suffix(' ').unwrap_or(num);
    if num.is_empty()
        || !num.chars().all(|c| c.is_ascii_digit() || c == '.')
        || num.starts_with('.')
    {
        return Err(bad());
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    Ok((f * mult as f64) as i64)
}

/// `--cpus 1.5` → NanoCpus, exact as docker's big.Rat parsing.
pub fn nano_cpus(s: &str) -> Result<i64, String> {
    let bad = || format!("failed to parse {s} as a rational number");
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.trim_end_matches('0').len() > 9 {
        return Err("value is too precise".into());
    }
    let i: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut f = frac.trim_end_matches('0').to_string();
    while f.len() < 9 {
        f.push('0');
    }
    Ok(i * 1_000_000_000 + f.parse::<i64>().unwrap_or(0))
}

/// Parses docker durations for `--since`-less uses like `--stop-timeout`: "10s", "1m30s", "100ms".
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mult;
        rest = &rest[u..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(45), "45 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(150), "2 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(5 * 3600), "5 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
        assert_eq!(human_duration(20 * 86400), "2 weeks");
        assert_eq!(human_duration(90 * 86400), "3 months");
        assert_eq!(human_duration(800 * 86400), "2 years");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1234.0), "1.23kB");
        assert_eq!(human_size(4_400_000.0), "4.4MB");
        assert_eq!(human_size(1_000_000.0), "1MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(bytes_size(2_076_000_000.0), "1.933GiB");
        assert_eq!(fmt_g(1234.0, 3), "1.23e+03");
        assert_eq!(human_size4(4_261_000.0), "4.261MB");
    }

    #[test]
    fn parsing() {
        assert_eq!(ram_in_bytes("32m"), Ok(32 << 20));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(ram_in_bytes("100"), Ok(100));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert!(ram_in_bytes("foo").is_err());
        assert_eq!(nano_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(nano_cpus("0.25"), Ok(250_000_000));
        assert_eq!(nano_cpus("2"), Ok(2_000_000_000));
        assert!(nano_cpus("x").is_err());
        assert_eq!(parse_go_duration("1m30s"), Some(90.0));
        assert_eq!(parse_go_duration("100ms"), Some(0.1));
        assert_eq!(parse_go_duration("x"), None);
    }
}
