//! Who really sent a callback, and whether that source may post callbacks at all. Pure: the
//! peer address and the `X-Forwarded-For` bytes come in, a decision goes out.

use std::net::IpAddr;

use ipnet::IpNet;

/// `CALLBACK_ALLOWED_NETWORKS` and `TRUSTED_PROXIES`.
#[derive(Clone, Debug, Default)]
pub struct SourcePolicy {
    /// Empty: any source may post.
    pub allowed_networks: Vec<IpNet>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// A trusted proxy passed on an `X-Forwarded-For` entry that is not an address (or not text):
/// who sent the callback cannot be told, so it is not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnreadableForwardedFor;

impl SourcePolicy {
    /// The address the callback came from. `X-Forwarded-For` is read only when the peer is a
    /// trusted proxy, and then from the right: each hop appended by a trusted proxy is skipped,
    /// and the first address a trusted proxy did not send is the source. Anything left of it
    /// could have been written by the sender itself, so it is never read, let alone believed.
    /// An entry the walk reaches that is not an address is an error, never the proxy's own
    /// address: a sender could otherwise write garbage to be taken for the proxy.
    pub fn source(
        &self,
        peer: IpAddr,
        forwarded_for: Option<&[u8]>,
    ) -> Result<IpAddr, UnreadableForwardedFor> {
        let mut source = peer.to_canonical();
        let Some(chain) = forwarded_for else {
            return Ok(source);
        };
        // Bytes, not text: a non-ASCII byte left of the source is the sender's and is not read.
        for hop in chain.rsplit(|&b| b == b',') {
            if !self.is_trusted_proxy(source) {
                break;
            }
            source = parse_hop(hop).ok_or(UnreadableForwardedFor)?;
        }
        Ok(source)
    }

    pub fn admits(&self, source: IpAddr) -> bool {
        let source = source.to_canonical();
        self.allowed_networks.is_empty()
            || self.allowed_networks.iter().any(|n| n.contains(&source))
    }

    fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`192.0.2.1:443`,
/// `[2001:db8::1]:443`), as some proxies write it.
fn parse_hop(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop).ok()?.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn policy(allowed: &[&str], proxies: &[&str]) -> SourcePolicy {
        SourcePolicy {
            allowed_networks: nets(allowed),
            trusted_proxies: nets(proxies),
        }
    }

    #[test]
    fn without_networks_anyone_is_admitted() {
        let p = policy(&[], &[]);
        assert!(p.admits(ip("198.51.100.7")));
        assert!(p.admits(ip("2001:db8::1")));
    }

    #[test]
    fn networks_admit_ipv4_and_ipv6_sources() {
        let p = policy(&["203.0.113.0/24", "2001:db8:1::/48"], &[]);
        assert!(p.admits(ip("203.0.113.200")));
        assert!(!p.admits(ip("203.0.114.1")));
        assert!(p.admits(ip("2001:db8:1:ffff::1")));
        assert!(!p.admits(ip("2001:db8:2::1")));
        // A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6.
        assert!(p.admits(ip("::ffff:203.0.113.9")));
    }

    #[test]
    fn forwarded_for_from_an_untrusted_peer_is_ignored() {
        let p = policy(&["203.0.113.0/24"], &["10.0.0.0/8"]);
        let source = p.source(ip("198.51.100.7"), Some(b"203.0.113.5")).unwrap();
        assert_eq!(source, ip("198.51.100.7"));
        assert!(!p.admits(source));
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_source() {
        let p = policy(&["203.0.113.0/24"], &[]);
        assert_eq!(
            p.source(ip("10.0.0.1"), Some(b"203.0.113.5")).unwrap(),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_source() {
        let p = policy(&["203.0.113.0/24"], &["10.0.0.0/8"]);
        let source = p.source(ip("10.1.2.3"), Some(b"203.0.113.5")).unwrap();
        assert_eq!(source, ip("203.0.113.5"));
        assert!(p.admits(source));
    }

    #[test]
    fn the_chain_is_walked_from_the_right_past_trusted_proxies_only() {
        let p = policy(&["203.0.113.0/24"], &["10.0.0.0/8", "fd00::/8"]);
        // The sender wrote an allowed address itself; the first proxy appended the real one.
        let source = p
            .source(ip("10.0.0.2"), Some(b"203.0.113.5, 198.51.100.7, 10.0.0.1"))
            .unwrap();
        assert_eq!(source, ip("198.51.100.7"));
        // Two trusted proxies in a row.
        let source = p
            .source(ip("fd00::2"), Some(b"203.0.113.5,fd00::1"))
            .unwrap();
        assert_eq!(source, ip("203.0.113.5"));
        // Several headers arrive joined with commas, in order.
        let source = p
            .source(ip("10.0.0.2"), Some(b"1.1.1.1, 203.0.113.9,10.9.9.9"))
            .unwrap();
        assert_eq!(source, ip("203.0.113.9"));
    }

    #[test]
    fn ports_and_mapped_addresses_in_the_chain() {
        let p = policy(&[], &["10.0.0.0/8"]);
        assert_eq!(
            p.source(ip("::ffff:10.0.0.2"), Some(b"203.0.113.5:4711"))
                .unwrap(),
            ip("203.0.113.5")
        );
        assert_eq!(
            p.source(ip("10.0.0.2"), Some(b"[2001:db8::7]:443"))
                .unwrap(),
            ip("2001:db8::7")
        );
    }

    /// What a trusted proxy passed on must be an address: garbage, an empty entry or a byte
    /// that is not text is an error, not the proxy's address (which may be allowed itself).
    #[test]
    fn garbage_a_trusted_proxy_passed_on_is_an_error() {
        let p = policy(&["10.0.0.0/8"], &["10.0.0.0/8"]);
        for chain in [
            &b"203.0.113.5, unknown"[..],
            b"unknown, 10.0.0.1",
            b"",
            b"203.0.113.5,",
            b"198.51.100.9\xff",
            b"\xff, 10.0.0.1",
            b"203.0.113.5 10.0.0.1",
        ] {
            assert_eq!(
                p.source(ip("10.0.0.2"), Some(chain)),
                Err(UnreadableForwardedFor),
                "{:?}",
                String::from_utf8_lossy(chain)
            );
        }
    }

    /// Left of the source is the sender's own writing: never read, garbage or not.
    #[test]
    fn garbage_left_of_the_source_is_not_read() {
        let p = policy(&["203.0.113.0/24"], &["10.0.0.0/8"]);
        for chain in [
            &b"unknown, 203.0.113.5"[..],
            b"\xff\xfe,203.0.113.5, 10.0.0.1",
        ] {
            assert_eq!(p.source(ip("10.0.0.2"), Some(chain)), Ok(ip("203.0.113.5")));
        }
        // From a peer that is not a trusted proxy, the header is not read at all.
        assert_eq!(
            p.source(ip("198.51.100.7"), Some(b"\xff")),
            Ok(ip("198.51.100.7"))
        );
    }
}
