//! Where webhooks may be sent. A webhook is a request the server makes for a user, from
//! inside the server's network, so on a shared server it must not reach that network:
//! loopback, private and link-local addresses (cloud metadata at 169.254.169.254) and the
//! like are refused unless the server is configured to allow them. The URL is checked
//! when a webhook is registered or changed, and every delivery checks again the addresses
//! it connects to, because what a name resolves to can change after registration.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};
use webhook_client::dns::{Addrs, Name, Resolve, Resolving};

/// How long a registration waits for the URL's name to resolve.
const REGISTRATION_LOOKUP: Duration = Duration::from_secs(3);

/// What kind of internal address `ip` is; `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        // 0.0.0.0/8 is "this network": connecting to it reaches the host itself.
        _ if a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        // 100.64.0.0/10, carrier-grade NAT; some clouds serve metadata there (100.100.100.200).
        _ if a == 100 && (b & 0xc0) == 64 => "shared (carrier-grade NAT)",
        _ if ip.is_multicast() || a >= 240 => "multicast or reserved",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // ::ffff:a.b.c.d reaches the IPv4 address a.b.c.d.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    // 64:ff9b::/96 (NAT64) reaches the embedded IPv4 address through a translator.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return internal_v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
    }
    Some(match () {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // ::a.b.c.d, the deprecated IPv4-compatible form.
        _ if s[..6] == [0; 6] => "IPv4-compatible",
        _ if ip.is_unique_local() => "private",
        _ if ip.is_unicast_link_local() => "link-local",
        // fec0::/10, the deprecated site-local addresses.
        _ if (s[0] & 0xffc0) == 0xfec0 => "site-local",
        _ if ip.is_multicast() => "multicast or reserved",
        _ => return None,
    })
}

fn refusal(ip: IpAddr, via: Option<&str>) -> String {
    let kind = internal_kind(ip).unwrap_or("internal");
    let what = match via {
        Some(name) => format!("`{name}` resolves to {ip}, an internal address ({kind})"),
        None => format!("{ip} is an internal address ({kind})"),
    };
    format!("{what}; this server sends webhooks only to public addresses")
}

/// The host of `url` when it is an IP address (a client connects to it without resolving).
fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Why a webhook may not be registered with `url`, if it may not. A name that does not
/// resolve (yet) is accepted: every delivery checks what it resolves to then.
pub async fn registration_refusal(url: &Url) -> Option<String> {
    if let Some(ip) = literal_ip(url) {
        return internal_kind(ip).map(|_| refusal(ip, None));
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default().unwrap_or(80);
    let lookup = tokio::time::timeout(REGISTRATION_LOOKUP, tokio::net::lookup_host((host, port))).await;
    let Ok(Ok(addrs)) = lookup else { return None };
    let addrs: Vec<SocketAddr> = addrs.collect();
    addrs.iter().find(|a| internal_kind(a.ip()).is_some()).map(|a| refusal(a.ip(), Some(host)))
}

/// Why a delivery to `url`'s IP address may not be sent, if it may not. Names are checked
/// by [`PublicOnly`] as the client resolves them.
pub fn delivery_refusal(url: &Url) -> Option<String> {
    let ip = literal_ip(url)?;
    internal_kind(ip).map(|_| refusal(ip, None))
}

/// The delivery client's resolver: a name resolving to any internal address is not
/// connected to at all. Checking here, on the very addresses the client then connects
/// to, leaves no window for the name to resolve differently between check and connect.
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(internal) = addrs.iter().find(|a| internal_kind(a.ip()).is_some()) {
                return Err(refusal(internal.ip(), Some(&host)).into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_of_every_kind_are_refused_and_public_ones_pass() {
        let kinds = [
            ("127.0.0.1", Some("loopback")),
            ("127.1.2.3", Some("loopback")),
            ("10.0.0.1", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("100.100.100.200", Some("shared (carrier-grade NAT)")),
            ("224.0.0.1", Some("multicast or reserved")),
            ("255.255.255.255", Some("multicast or reserved")),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fc00::1", Some("private")),
            ("fd12:3456::1", Some("private")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast or reserved")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.1.2.3", Some("private")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:0.0.0.0", Some("unspecified")),
            ("::127.0.0.1", Some("IPv4-compatible")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("203.0.113.7", None),
            ("2001:4860:4860::8888", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
        ];
        for (ip, kind) in kinds {
            assert_eq!(internal_kind(ip.parse().unwrap()), kind, "{ip}");
        }
    }

    #[tokio::test]
    async fn registration_checks_literal_addresses_and_resolved_names() {
        let check = |raw: &str| {
            let url = Url::parse(raw).unwrap();
            async move { registration_refusal(&url).await }
        };
        assert_eq!(
            check("http://[::ffff:7f00:1]:8080/hook").await.as_deref(),
            Some(
                "::ffff:127.0.0.1 is an internal address (loopback); this server sends webhooks only to public addresses"
            )
        );
        let localhost = check("http://localhost:9/hook").await.unwrap();
        assert!(localhost.starts_with("`localhost` resolves to "), "{localhost}");
        assert_eq!(check("https://203.0.113.7/hook").await, None);
        assert_eq!(check("https://no-such-host.invalid/hook").await, None, "checked again at delivery");
    }
}
