//! The client's address: the socket peer, or — only behind proxies we were told to trust —
//! `X-Forwarded-For` read right to left. IPv6 clients are grouped by /64, since one host
//! usually owns a whole /64 and could otherwise rotate through it to dodge limits.

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

/// Proxies whose `X-Forwarded-For` we believe: exact addresses or CIDR ranges.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.1, 10.1.0.0/16, ::1`; returns the entry that does not parse.
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
        Ok(Self(ranges))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| in_range(ip, *net, *bits))
    }

    /// Resolves the client address of a request.
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
        // Each proxy appends the address it saw; walk back from the nearest hop and take the
        // first one that is not one of ours. Anything further left could be forged.
        let hops: Vec<IpAddr> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect();
        hops.iter()
            .rev()
            .find(|ip| !self.trusts(**ip))
            .map_or(ClientIp::new(peer), |ip| ClientIp::new(*ip))
    }
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
        let mut builder = Request::builder().uri("/");
        if let Some(xff) = xff {
            builder = builder.header("x-forwarded-for", xff);
        }
        let mut req = builder.body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1234)));
        req
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(&request("203.0.113.9", Some("1.2.3.4")))
                .to_string(),
            "203.0.113.9"
        );
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let req = request("10.0.0.2", Some("6.6.6.6, 198.51.100.7, 10.0.0.1"));
        assert_eq!(
            proxies.client_ip(&req).to_string(),
            "198.51.100.7",
            "right to left, skipping our proxies"
        );
        assert_eq!(
            proxies.client_ip(&request("10.0.0.2", None)).to_string(),
            "10.0.0.2"
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/40".into()]).is_err());
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
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
