//! `ipaddr`: an IPv4 or IPv6 address with a prefix length.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::fail;

/// An IPv4 or IPv6 address with a prefix length (a host address has the full
/// length). The address is kept as written, not masked, so `ip("10.0.0.1/24")`
/// and `ip("10.0.0.0/24")` differ, as in Cedar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    fn bits(&self) -> u32 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    fn number(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    /// The first and last address of the network.
    fn range(&self) -> (u128, u128) {
        let bits = self.bits();
        let host_bits = bits - u32::from(self.prefix);
        let host: u128 = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = self.number() & !host;
        (first, first | host)
    }

    /// Whether every address of `self` lies in `net` (same version only).
    pub fn in_range(&self, net: &IpNet) -> bool {
        if self.addr.is_ipv4() != net.addr.is_ipv4() {
            return false;
        }
        let (lo, hi) = self.range();
        let (net_lo, net_hi) = net.range();
        net_lo <= lo && hi <= net_hi
    }
}

/// Python's `str(ipaddress.IPv6Address)`: lowercase hextets, the first longest
/// run of two or more zero hextets written `::`.
fn ipv6_text(addr: &Ipv6Addr) -> String {
    let segments = addr.segments();
    let (mut best_start, mut best_len) = (usize::MAX, 0usize);
    let (mut start, mut len) = (usize::MAX, 0usize);
    for (i, s) in segments.iter().enumerate() {
        if *s == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                best_len = len;
                best_start = start;
            }
        } else {
            len = 0;
        }
    }
    let hex: Vec<String> = segments.iter().map(|s| format!("{s:x}")).collect();
    if best_len < 2 {
        return hex.join(":");
    }
    let head = hex[..best_start].join(":");
    let tail = hex[best_start + best_len..].join(":");
    format!("{head}::{tail}")
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.addr {
            IpAddr::V4(a) => write!(f, "ip(\"{a}/{}\")", self.prefix),
            IpAddr::V6(a) => write!(f, "ip(\"{}/{}\")", ipv6_text(a), self.prefix),
        }
    }
}

// -- ipaddr -------------------------------------------------------------------------

/// Bytes: `ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128`.
const IP_MAX_LEN: usize = 43;

fn embedded(text: &str) -> String {
    format!(
        "error parsing IP address from string: We do not accept IPv4 embedded in IPv6 \
         (e.g., ::ffff:127.0.0.1). Found: `{text}`"
    )
}

fn plain_address(text: &str) -> Option<IpAddr> {
    let allowed = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
    if text.is_empty() || !text.chars().all(allowed) {
        return None; // also rules out zone ids (`%eth0`) and brackets
    }
    if text.contains(':') {
        Ipv6Addr::from_str(text).ok().map(IpAddr::V6)
    } else {
        Ipv4Addr::from_str(text).ok().map(IpAddr::V4)
    }
}

fn parse_prefix(text: &str, limit: u8, max_len: usize) -> Result<u8, String> {
    if text.len() > max_len {
        return Err(fail(
            "ipaddr",
            format!(
                "error parsing prefix: string length {} is too large",
                text.len()
            ),
        ));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail(
            "ipaddr",
            format!("error parsing prefix `{text}`: encountered non-digit"),
        ));
    }
    if text.starts_with('0') && text != "0" {
        return Err(fail(
            "ipaddr",
            format!("error parsing prefix `{text}`: leading zero(s)"),
        ));
    }
    if text.is_empty() {
        return Err(fail(
            "ipaddr",
            "error parsing prefix from the string ``: cannot parse integer from empty string",
        ));
    }
    let value: u32 = text.parse().unwrap_or(u32::MAX);
    if value > u32::from(limit) {
        return Err(fail(
            "ipaddr",
            format!("error parsing prefix: {value} is larger than the limit {limit}"),
        ));
    }
    Ok(value as u8)
}

/// `ip("10.0.0.1")` or `ip("10.0.0.0/8")`: IPv4 or IPv6, no IPv4 embedded in IPv6.
pub fn parse_ip(text: &str) -> Result<IpNet, String> {
    if text.len() > IP_MAX_LEN {
        return Err(fail(
            "ipaddr",
            format!("error parsing IP address from string `{text}`: string length is too large"),
        ));
    }
    // Cedar refuses any mix of colons and dots (two of each) before reading the address.
    if text.matches(':').count() >= 2 && text.matches('.').count() >= 2 {
        return Err(fail("ipaddr", embedded(text)));
    }
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let Some(addr) = plain_address(addr_text) else {
        if prefix_text.is_some() {
            return Err(fail(
                "ipaddr",
                format!(
                    "error parsing IP address from the string `{addr_text}`: invalid IP address syntax"
                ),
            ));
        }
        return Err(fail("ipaddr", format!("invalid IP address: {text}")));
    };
    let (limit, max_len) = if addr.is_ipv4() { (32, 2) } else { (128, 3) };
    let prefix = match prefix_text {
        Some(p) => parse_prefix(p, limit, max_len)?,
        None => limit,
    };
    Ok(IpNet { addr, prefix })
}

pub(super) fn loopback(v4: bool) -> IpNet {
    if v4 {
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
            prefix: 8,
        }
    } else {
        IpNet {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            prefix: 128,
        }
    }
}

pub(super) fn multicast(v4: bool) -> IpNet {
    if v4 {
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 0)),
            prefix: 4,
        }
    } else {
        IpNet {
            addr: IpAddr::V6(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0)),
            prefix: 8,
        }
    }
}
