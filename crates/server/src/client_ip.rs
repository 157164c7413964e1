//! The address a request is attributed to, for rate limits and the audit trail.
//!
//! `X-Forwarded-For` is believed only when the connecting peer is a configured trusted
//! proxy, and then read from the right: the nearest address that is not itself a
//! trusted proxy is the client. A client cannot pick its own address by sending the
//! header, with or without a proxy in front.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|s| s.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        // An unparsable hop means the chain cannot be trusted: attribute to the proxy.
        .unwrap_or_default();
    forwarded.iter().rev().find(|ip| !is_trusted(ip)).copied().or(forwarded.first().copied()).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_are_taken_at_their_word_only() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("203.0.113.9"), &headers(&["1.2.3.4"]), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("203.0.113.9"), &headers(&[]), &[]), ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        // A client spoofs a first hop; the proxy appends the real one.
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&["6.6.6.6, 198.51.100.7"]), &trusted), ip("198.51.100.7"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&["6.6.6.6", "198.51.100.7, 10.0.0.5"]), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("::1"), &headers(&["198.51.100.7"]), &trusted), ip("198.51.100.7"));
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&[]), &trusted), ip("10.0.0.2"));
        // Garbage in the chain: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.2"), &headers(&["nonsense, 198.51.100.7"]), &trusted), ip("10.0.0.2"));
    }
}
