//! Who is fetching: the SASL principal a connection authenticated as, else its client id, then
//! mapped to a grant's consumer name.
//!
//! The principal is read from the client's own SaslAuthenticate bytes (PLAIN's authorization
//! or authentication id, SCRAM's `n=` user name) and only believed once the broker answers that
//! exchange with success, so it is as trustworthy as the broker's authentication. A client id
//! is whatever the client says; spoofing one gains nothing confidential (a cfrag opens only with
//! the named consumer's private key) but costs CPU, which is why `Source::Principal` exists.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which identity the proxy trusts. A connection that authenticated with SASL is named by its
/// principal only (never by its client id), and gets no fragments when the mechanism's user
/// name cannot be read here (GSSAPI, OAUTHBEARER: the transform records an empty principal).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// The SASL principal when the connection authenticated, else the client id.
    #[default]
    PrincipalOrClientId,
    /// Only an authenticated SASL principal; unauthenticated connections get no cfrags.
    Principal,
    /// Only the client id (brokers without SASL).
    ClientId,
}

/// The identity settings of a re-encryptor.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    /// Which identity to use.
    pub source: Source,
    /// Principal or client id → consumer name in the grants; unmapped names stand for
    /// themselves.
    pub map: BTreeMap<String, String>,
}

impl Resolver {
    /// The consumer name grants are looked up under, if the connection has one.
    pub fn consumer<'a>(
        &'a self,
        principal: Option<&'a str>,
        client_id: Option<&'a str>,
    ) -> Option<&'a str> {
        let name = match self.source {
            Source::PrincipalOrClientId => principal.or(client_id),
            Source::Principal => principal,
            Source::ClientId => client_id,
        }?;
        if name.is_empty() {
            return None;
        }
        Some(self.map.get(name).map_or(name, String::as_str))
    }
}

/// The user name a SaslAuthenticate request claims, for the mechanisms whose first client
/// message names one (PLAIN, SCRAM-SHA-256/512). Other mechanisms (GSSAPI, OAUTHBEARER) give
/// `None` here and their connections fall back to the client id unless `Source::Principal`.
pub fn claimed_principal(mechanism: &str, auth_bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(auth_bytes).ok()?;
    match mechanism {
        "PLAIN" => {
            // authzid NUL authcid NUL passwd; Kafka's principal is the authzid when given.
            let mut parts = text.splitn(3, '\0');
            let authzid = parts.next()?;
            let authcid = parts.next()?;
            parts.next()?;
            let name = if authzid.is_empty() { authcid } else { authzid };
            (!name.is_empty()).then(|| name.to_string())
        }
        "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
            // gs2-header "n,[a=authzid]," then "n=user,r=nonce[,extensions]".
            let bare = text.splitn(3, ',').nth(2)?;
            let user = bare.split(',').find_map(|f| f.strip_prefix("n="))?;
            let user = user.replace("=2C", ",").replace("=3D", "=");
            (!user.is_empty()).then_some(user)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_scram_names() {
        assert_eq!(
            claimed_principal("PLAIN", b"\0alice\0secret").as_deref(),
            Some("alice")
        );
        assert_eq!(
            claimed_principal("PLAIN", b"admin\0alice\0secret").as_deref(),
            Some("admin")
        );
        assert_eq!(claimed_principal("PLAIN", b"alice"), None);
        assert_eq!(claimed_principal("PLAIN", b"\0\0pw"), None);
        assert_eq!(
            claimed_principal("SCRAM-SHA-256", b"n,,n=bob,r=abc").as_deref(),
            Some("bob")
        );
        assert_eq!(
            claimed_principal("SCRAM-SHA-512", b"n,,n=a=2Cb=3Dc,r=x").as_deref(),
            Some("a,b=c")
        );
        assert_eq!(claimed_principal("SCRAM-SHA-256", b"garbage"), None);
        assert_eq!(claimed_principal("GSSAPI", b"\0alice\0pw"), None);
        assert_eq!(claimed_principal("PLAIN", &[0xff, 0, 0x61, 0, 0x62]), None);
    }

    #[test]
    fn resolution_order_and_mapping() {
        let mut r = Resolver::default();
        assert_eq!(r.consumer(Some("alice"), Some("app-1")), Some("alice"));
        assert_eq!(r.consumer(None, Some("app-1")), Some("app-1"));
        assert_eq!(r.consumer(None, Some("")), None);
        // Authenticated, but by a mechanism whose name the proxy cannot read: no identity,
        // and no fallback to the client id.
        assert_eq!(r.consumer(Some(""), Some("app-1")), None);
        r.map.insert("app-1".into(), "consumer-1".into());
        assert_eq!(r.consumer(None, Some("app-1")), Some("consumer-1"));
        r.source = Source::Principal;
        assert_eq!(r.consumer(None, Some("app-1")), None);
        assert_eq!(r.consumer(Some("alice"), Some("app-1")), Some("alice"));
        r.source = Source::ClientId;
        assert_eq!(r.consumer(Some("alice"), Some("app-1")), Some("consumer-1"));
    }
}
