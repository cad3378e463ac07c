//! The client's address: the socket peer, or — only behind proxies we were told to trust —
//! `X-Forwarded-For` (or RFC 7239 `Forwarded`) read right to left, see
//! [`TrustedProxies::client_ip`]. IPv6 clients are grouped by /64, since one host usually owns
//! a whole /64 and could otherwise rotate through it to dodge limits.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request};

/// A resolved client address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(Option<IpAddr>);

impl ClientIp {
    /// A known address.
    pub fn new(ip: IpAddr) -> Self {
        Self(Some(ip.to_canonical()))
    }

    /// No address could be determined.
    pub fn unknown() -> Self {
        Self(None)
    }

    /// The address, if known.
    pub fn ip(&self) -> Option<IpAddr> {
        self.0
    }

    /// The rate-limit bucket: the address, its /64 for IPv6, or a shared bucket when unknown.
    pub fn bucket(&self) -> String {
        match self.0 {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
            None => "no-trusted-ip".to_owned(),
        }
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => Ok(()),
        }
    }
}

/// The header the trusted proxies write the client's address into. Exactly one is read: a
/// proxy that writes one of them usually passes the other through from the client untouched
/// (nginx's `$proxy_add_x_forwarded_for` leaves `Forwarded` alone; HAProxy's `option forwarded`
/// leaves `X-Forwarded-For`), so preferring whichever is present would let any client name
/// itself by sending the one its proxy ignores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default: what nginx, HAProxy's
    /// `option forwardfor`, Caddy, Traefik, Envoy and cloud load balancers write).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

impl std::str::FromStr for ForwardedHeader {
    type Err = String;

    /// `x-forwarded-for` or `forwarded`, in any case.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(raw.to_owned()),
        }
    }
}

/// Proxies whose forwarding header we believe (exact addresses or CIDR ranges), and which
/// header that is.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<(IpAddr, u8)>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Parses `10.0.0.1, 10.1.0.0/16, ::1`; returns the entry that does not parse. The proxies
    /// are taken to write `X-Forwarded-For`; see [`TrustedProxies::with_header`].
    pub fn parse(list: &[String]) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for raw in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (addr, bits) = match raw.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (raw, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| raw.to_owned())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| raw.to_owned())?,
                None => max,
            };
            ranges.push((ip, bits));
        }
        Ok(Self {
            ranges,
            header: ForwardedHeader::default(),
        })
    }

    /// Reads `header` instead (the only one read; the other is ignored).
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// Whether `ip` is one of the trusted proxies (the edge believes their `x-request-id`).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges
            .iter()
            .any(|(net, bits)| in_range(ip, *net, *bits))
    }

    /// Resolves the client address of a request.
    ///
    /// Each proxy appends the address it saw, so the list is read from the right, starting at
    /// the socket peer: while the address in hand is one of our proxies, the entry to its left
    /// (which that proxy wrote) is believed and becomes the address in hand. The walk stops at
    /// the first address that is not ours (the client), or at an entry that names no address
    /// (`unknown`, an obfuscated `_id`, garbage, an empty or non-ASCII entry): the client is
    /// then the proxy that wrote it. Everything left of where the walk stops was written by
    /// the client or by hosts we do not trust, so it can never decide the answer; in
    /// particular an unparseable entry is never skipped, which would hand the decision to the
    /// attacker's entry beside it. A proxy that could not name its client thus puts those
    /// clients in its own bucket; a client can spoof only that bucket, never another address.
    pub fn client_ip(&self, request: &Request) -> ClientIp {
        let Some(peer) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical())
        else {
            return ClientIp::unknown();
        };
        if !self.trusts(peer) {
            return ClientIp::new(peer);
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => entries(request, "x-forwarded-for", parse_node),
            ForwardedHeader::Forwarded => entries(request, "forwarded", forwarded_for),
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(client) => client = ip.to_canonical(),
                _ => break,
            }
        }
        ClientIp::new(client)
    }
}

/// Every comma-separated entry of every `name` header line, in order, parsed by `entry`;
/// `None` for one that names no address (a line that is not visible ASCII is one such entry).
///
/// Commas are split on even inside quoted strings: the entries a proxy appends never contain
/// one, so the rightmost pieces are always the proxies' own, whatever quotes a client opened.
fn entries(
    request: &Request,
    name: &str,
    entry: fn(&str) -> Option<IpAddr>,
) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for line in request.headers().get_all(name) {
        match line.to_str() {
            Ok(text) => hops.extend(text.split(',').map(entry)),
            Err(_) => hops.push(None),
        }
    }
    hops
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, `192.0.2.1:4711`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`; the port may be RFC 7239's obfuscated `_id`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(ip);
    }
    let (ip, port) = match raw.strip_prefix('[') {
        Some(rest) => {
            let (v6, after) = rest.split_once(']')?;
            let ip = IpAddr::V6(v6.parse().ok()?);
            match after {
                "" => return Some(ip),
                _ => (ip, after.strip_prefix(':')?),
            }
        }
        None => {
            let (v4, port) = raw.split_once(':')?;
            (IpAddr::V4(v4.parse().ok()?), port)
        }
    };
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    (port.parse::<u16>().is_ok() || obfuscated).then_some(ip)
}

/// The `for=` node of one RFC 7239 element (`for=192.0.2.60;proto=http;by=203.0.113.43`):
/// keys are case-insensitive and the value may be quoted. An element with no `for`, or more
/// than one, names no address; so do `unknown` and obfuscated identifiers (`_hidden`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut values = element.split(';').filter_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    });
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let node = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => value,
    };
    parse_node(node)
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip.to_canonical(), net.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(peer: &str, xff: Option<&str>) -> Request {
        with_headers(peer, xff.map(|v| ("x-forwarded-for", v)).as_slice())
    }

    fn with_headers(peer: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut req = builder.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1234)));
        req
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8".into(), "fd00::/8".into()]).unwrap()
    }

    /// The client seen through our proxies from 10.0.0.2 with these `X-Forwarded-For` lines.
    fn via_xff(lines: &[&str]) -> String {
        let headers: Vec<_> = lines.iter().map(|l| ("x-forwarded-for", *l)).collect();
        proxies()
            .client_ip(&with_headers("10.0.0.2", &headers))
            .to_string()
    }

    /// The same with `Forwarded` lines, read by proxies configured to write it.
    fn via_forwarded(lines: &[&str]) -> String {
        let headers: Vec<_> = lines.iter().map(|l| ("forwarded", *l)).collect();
        proxies()
            .with_header(ForwardedHeader::Forwarded)
            .client_ip(&with_headers("10.0.0.2", &headers))
            .to_string()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(&request("203.0.113.9", Some("1.2.3.4")))
                .to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            via_xff(&["6.6.6.6, 198.51.100.7, 10.0.0.1"]),
            "198.51.100.7",
            "right to left, skipping our proxies"
        );
        assert_eq!(
            proxies().client_ip(&request("10.0.0.2", None)).to_string(),
            "10.0.0.2"
        );
        assert_eq!(
            via_xff(&["10.0.0.7, 10.0.0.1"]),
            "10.0.0.7",
            "a request from inside is the leftmost of our proxies"
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/40".into()]).is_err());
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
    }

    #[test]
    fn entries_with_ports_and_brackets_name_their_address() {
        for (entry, client) in [
            ("198.51.100.7", "198.51.100.7"),
            ("198.51.100.7:4711", "198.51.100.7"),
            ("2001:db8::7", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("[2001:db8::7]:4711", "2001:db8::7"),
            (" [::ffff:192.0.2.1]:80 ", "192.0.2.1"),
        ] {
            assert_eq!(via_xff(&[&format!("6.6.6.6, {entry}")]), client, "{entry}");
        }
        // A trusted proxy's entry with a port is walked past like one without.
        assert_eq!(
            via_xff(&["6.6.6.6, 198.51.100.7, 10.0.0.1:443"]),
            "198.51.100.7"
        );
        assert_eq!(
            via_xff(&["6.6.6.6, 198.51.100.7, [fd00::1]:443"]),
            "198.51.100.7"
        );
    }

    #[test]
    fn an_entry_that_names_no_address_stops_the_walk_at_the_proxy_that_wrote_it() {
        // Before, these entries were skipped and the forged 6.6.6.6 became the client.
        for entry in [
            "unknown",
            "_hidden",
            "garbage",
            "",
            "198.51.100.7:",
            "198.51.100.7:99999",
            "198.51.100.7:80:80",
            "[2001:db8::7",
            "[2001:db8::7]4711",
            "2001:db8::7]:4711",
            "[198.51.100.7]:80",
            "fe80::1%eth0",
        ] {
            assert_eq!(
                via_xff(&[&format!("6.6.6.6, {entry}")]),
                "10.0.0.2",
                "{entry:?}"
            );
            assert_eq!(
                via_xff(&[&format!("6.6.6.6, {entry}, 10.0.0.1")]),
                "10.0.0.1",
                "{entry:?}"
            );
        }
        // Lines are read in order, as one list; a line that is not text is one such entry.
        assert_eq!(via_xff(&["6.6.6.6", "198.51.100.7"]), "198.51.100.7");
        assert_eq!(via_xff(&["6.6.6.6", "garbage", "10.0.0.1"]), "10.0.0.1");
        let mut req = with_headers("10.0.0.2", &[("x-forwarded-for", "6.6.6.6")]);
        req.headers_mut().append(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"198.51.100.\xff").unwrap(),
        );
        assert_eq!(proxies().client_ip(&req).to_string(), "10.0.0.2");
    }

    #[test]
    fn rfc_7239_forwarded_names_the_client_by_its_for_parameter() {
        for (lines, client) in [
            (
                &["for=192.0.2.60;proto=http;by=203.0.113.43"][..],
                "192.0.2.60",
            ),
            (
                &["for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\""],
                "2001:db8:cafe::17",
            ),
            (&["for=\"[2001:db8:cafe::17]\""], "2001:db8:cafe::17"),
            (&["for=\"192.0.2.43:4711\""], "192.0.2.43"),
            (&["for=\"192.0.2.43:_hidden\""], "192.0.2.43"),
            (
                &["proto=https; for=192.0.2.60 ;host=example.com"],
                "192.0.2.60",
            ),
            (
                &["for=6.6.6.6", "for=192.0.2.60, for=10.0.0.1"],
                "192.0.2.60",
            ),
        ] {
            assert_eq!(via_forwarded(lines), client, "{lines:?}");
        }
        for element in [
            "for=unknown",
            "for=_hidden",
            "for=\"_hidden\"",
            "proto=https",
            "for=192.0.2.60;for=192.0.2.61",
            "for=\"192.0.2.60",
            "for=",
        ] {
            assert_eq!(
                via_forwarded(&[&format!("for=6.6.6.6, {element}")]),
                "10.0.0.2",
                "{element}"
            );
        }
        // A quote the client opens cannot swallow the entry our proxy appended.
        assert_eq!(
            via_forwarded(&["for=\"6.6.6.6, for=192.0.2.60"]),
            "192.0.2.60"
        );
    }

    #[test]
    fn only_the_configured_header_is_read() {
        let req = with_headers(
            "10.0.0.2",
            &[
                ("x-forwarded-for", "198.51.100.7"),
                ("forwarded", "for=6.6.6.6"),
            ],
        );
        assert_eq!(proxies().client_ip(&req).to_string(), "198.51.100.7");
        let forwarded = proxies().with_header(ForwardedHeader::Forwarded);
        let req = with_headers(
            "10.0.0.2",
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("forwarded", "for=198.51.100.7"),
            ],
        );
        assert_eq!(forwarded.client_ip(&req).to_string(), "198.51.100.7");
        assert_eq!(
            "Forwarded".parse::<ForwardedHeader>(),
            Ok(ForwardedHeader::Forwarded)
        );
        assert_eq!(
            " x-forwarded-for".parse::<ForwardedHeader>(),
            Ok(ForwardedHeader::XForwardedFor)
        );
        assert!("x-real-ip".parse::<ForwardedHeader>().is_err());
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_is_plain_ipv4() {
        let a = ClientIp::new("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ClientIp::new("2001:db8:1:2:bbbb::2".parse().unwrap());
        assert_eq!(a.bucket(), b.bucket());
        assert_eq!(a.bucket(), "2001:db8:1:2::/64");
        assert_eq!(
            ClientIp::new("::ffff:192.0.2.1".parse().unwrap()).bucket(),
            "192.0.2.1"
        );
        assert_eq!(ClientIp::unknown().bucket(), "no-trusted-ip");
    }
}
