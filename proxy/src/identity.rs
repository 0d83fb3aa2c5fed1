//! Who is fetching: the SASL principal a connection authenticated as, else its client id, then
//! mapped to a grant's consumer name.
//!
//! The principal is read from the client's own first SaslAuthenticate message (PLAIN's
//! authentication id, SCRAM's client-first `n=` user name) and only believed once the broker
//! has answered the whole exchange with success, so it is as trustworthy as the broker's
//! authentication; a new handshake (re-authentication) forgets it until the broker accepts again. A client id
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
        auth: &'a Authentication,
        client_id: Option<&'a str>,
    ) -> Option<&'a str> {
        let principal = match auth {
            Authentication::None => None,
            // Authenticating, failed, or a user the proxy cannot name: never the client id.
            Authentication::NoPrincipal => Some(""),
            Authentication::Principal(name) => Some(name.as_str()),
        };
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

/// A SASL mechanism as far as naming its user goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Plain,
    Scram,
    /// GSSAPI, OAUTHBEARER, anything else: the proxy cannot read a user name.
    Opaque,
}

impl Mechanism {
    fn named(name: &str) -> Mechanism {
        match name {
            "PLAIN" => Mechanism::Plain,
            "SCRAM-SHA-256" | "SCRAM-SHA-512" => Mechanism::Scram,
            _ => Mechanism::Opaque,
        }
    }

    /// SaslAuthenticate round trips Kafka's server side of the mechanism takes; the exchange
    /// has succeeded when that many were answered without error. `None`: not known here.
    fn round_trips(self) -> Option<u32> {
        match self {
            Mechanism::Plain => Some(1),
            Mechanism::Scram => Some(2),
            Mechanism::Opaque => None,
        }
    }
}

/// What a connection has proved about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Authentication {
    /// No SASL exchange began: the connection is named by its client id, if the resolver allows.
    #[default]
    None,
    /// An exchange began and has not (yet) succeeded, or succeeded with a mechanism or message
    /// whose user the proxy cannot name: no identity, and no fallback to the client id.
    NoPrincipal,
    /// The broker accepted an exchange that named this user.
    Principal(String),
}

/// The SASL state of one connection. The principal is read from the exchange's first client
/// message only (PLAIN's authcid, SCRAM's client-first `n=`), never from later messages:
/// Kafka's SCRAM server ignores attributes it does not check (an `n=` in the client-final
/// message among them), so only the first message names the user the proof is checked for.
/// It is committed when the broker has answered every round trip of the exchange with success,
/// and cleared by any new SaslHandshake (re-authentication, KIP-368) or a failed round trip.
#[derive(Debug, Default)]
pub struct Session {
    state: Authentication,
    mechanism: Option<Mechanism>,
    /// The user the current exchange's first message named (`None`: none readable or refused).
    claimed: Option<String>,
    /// SaslAuthenticate requests sent and successful answers received in this exchange.
    sent: u32,
    answered: u32,
    /// A round trip of this exchange failed: nothing more commits until a new handshake.
    failed: bool,
    /// Bumped by every handshake, so answers to an abandoned exchange are ignored.
    exchange: u32,
}

/// Identifies one SaslAuthenticate request to [`Session::answered`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    exchange: u32,
    index: u32,
}

impl Session {
    /// What the connection has proved so far.
    pub fn authentication(&self) -> &Authentication {
        &self.state
    }

    /// A SaslHandshake request: a new exchange begins and any earlier principal is forgotten.
    pub fn handshake(&mut self, mechanism: &str) {
        self.state = Authentication::NoPrincipal;
        self.mechanism = Some(Mechanism::named(mechanism));
        self.claimed = None;
        self.sent = 0;
        self.answered = 0;
        self.failed = false;
        self.exchange = self.exchange.wrapping_add(1);
    }

    /// A SaslAuthenticate request carrying `auth_bytes`.
    pub fn authenticate(&mut self, auth_bytes: &[u8]) -> Step {
        // Kafka requires a handshake first; without one nothing below can commit.
        self.state = Authentication::NoPrincipal;
        if self.sent == 0 {
            self.claimed = match self.mechanism {
                Some(Mechanism::Plain) => plain_user(auth_bytes),
                Some(Mechanism::Scram) => scram_user(auth_bytes),
                _ => None,
            };
        }
        self.sent = self.sent.saturating_add(1);
        Step {
            exchange: self.exchange,
            index: self.sent,
        }
    }

    /// The broker's answer to the SaslAuthenticate request `step`.
    pub fn answered(&mut self, step: Step, success: bool) {
        if step.exchange != self.exchange || self.failed {
            return;
        }
        if !success || step.index != self.answered.saturating_add(1) {
            // A failed or out-of-order round trip ends the exchange without an identity.
            self.state = Authentication::NoPrincipal;
            self.claimed = None;
            self.failed = true;
            return;
        }
        self.answered += 1;
        let done = match self.mechanism.and_then(Mechanism::round_trips) {
            Some(n) => self.answered == n,
            // Unknown length: success answers never name a user here anyway.
            None => true,
        };
        if done {
            self.state = match self.claimed.take() {
                Some(user) => Authentication::Principal(user),
                None => Authentication::NoPrincipal,
            };
        }
    }
}

/// PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`. Kafka's principal is the authcid; an
/// authorization id other than empty or the authcid itself is refused (Kafka's own server
/// refuses it too, but a custom callback might not), so the connection names nobody.
fn plain_user(auth_bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(auth_bytes).ok()?;
    let mut parts = text.splitn(3, '\0');
    let authzid = parts.next()?;
    let authcid = parts.next()?;
    parts.next()?;
    if authcid.is_empty() || !(authzid.is_empty() || authzid == authcid) {
        return None;
    }
    Some(authcid.to_string())
}

/// SCRAM (RFC 5802) client-first message: `gs2-header client-first-message-bare`, the header
/// `n,` or `y,` (no channel binding: Kafka refuses `p=`) then `[a=authzid],`, the bare message
/// `n=saslname,r=nonce[,extensions]` with the user first. As in Kafka, an authzid other than
/// the user is refused.
fn scram_user(auth_bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(auth_bytes).ok()?;
    let mut fields = text.splitn(3, ',');
    let cbind = fields.next()?;
    let authzid = fields.next()?;
    let bare = fields.next()?;
    if cbind != "n" && cbind != "y" {
        return None;
    }
    let authzid = match authzid {
        "" => None,
        a => Some(saslname(a.strip_prefix("a=")?)?),
    };
    let mut bare = bare.split(',');
    let user = saslname(bare.next()?.strip_prefix("n=")?)?;
    bare.next()?.strip_prefix("r=")?;
    if user.is_empty() || authzid.is_some_and(|a| a != user) {
        return None;
    }
    Some(user)
}

/// A SCRAM `saslname`: `=2C` is a comma, `=3D` an equals sign, any other `=` is malformed.
fn saslname(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(mechanism: &str, messages: &[(&[u8], bool)]) -> Authentication {
        let mut s = Session::default();
        s.handshake(mechanism);
        for (bytes, ok) in messages {
            let step = s.authenticate(bytes);
            s.answered(step, *ok);
        }
        s.authentication().clone()
    }

    fn user(name: &str) -> Authentication {
        Authentication::Principal(name.into())
    }

    #[test]
    fn plain_names_the_authcid_and_refuses_a_foreign_authzid() {
        assert_eq!(exchange("PLAIN", &[(b"\0alice\0pw", true)]), user("alice"));
        assert_eq!(
            exchange("PLAIN", &[(b"alice\0alice\0pw", true)]),
            user("alice")
        );
        let none = Authentication::NoPrincipal;
        assert_eq!(exchange("PLAIN", &[(b"alice\0mallory\0pw", true)]), none);
        assert_eq!(exchange("PLAIN", &[(b"\0alice\0pw", false)]), none);
        assert_eq!(exchange("PLAIN", &[(b"alice", true)]), none);
        assert_eq!(exchange("PLAIN", &[(b"\0\0pw", true)]), none);
        assert_eq!(
            exchange("PLAIN", &[(&[0xff, 0, 0x61, 0, 0x62], true)]),
            none
        );
    }

    #[test]
    fn scram_user_comes_from_the_client_first_message_only() {
        let first: &[u8] = b"n,,n=bob,r=abc";
        let fin: &[u8] = b"c=biws,r=abcdef,p=cHJvb2Y=";
        assert_eq!(
            exchange("SCRAM-SHA-256", &[(first, true), (fin, true)]),
            user("bob")
        );
        // An `n=` smuggled into the client-final message names nobody new.
        let smuggled: &[u8] = b"c=biws,r=abcdef,n=alice,p=cHJvb2Y=";
        assert_eq!(
            exchange("SCRAM-SHA-512", &[(first, true), (smuggled, true)]),
            user("bob")
        );
        // Committed only once the final round trip succeeds.
        let none = Authentication::NoPrincipal;
        assert_eq!(exchange("SCRAM-SHA-256", &[(first, true)]), none);
        assert_eq!(
            exchange("SCRAM-SHA-256", &[(first, true), (fin, false)]),
            none
        );
        assert_eq!(
            exchange("SCRAM-SHA-256", &[(first, false), (fin, true)]),
            none
        );
        // Escapes, authzid rules, malformed messages.
        let escaped: &[u8] = b"n,,n=a=2Cb=3Dc,r=x";
        assert_eq!(
            exchange("SCRAM-SHA-256", &[(escaped, true), (fin, true)]),
            user("a,b=c")
        );
        let same: &[u8] = b"y,a=bob,n=bob,r=x";
        assert_eq!(
            exchange("SCRAM-SHA-256", &[(same, true), (fin, true)]),
            user("bob")
        );
        for bad in [
            &b"n,a=alice,n=bob,r=x"[..],
            b"p=tls-unique,,n=bob,r=x",
            b"n,,n=b=2Xob,r=x",
            b"n,,r=x,n=bob",
            b"n,,n=,r=x",
            b"garbage",
        ] {
            assert_eq!(
                exchange("SCRAM-SHA-256", &[(bad, true), (fin, true)]),
                none,
                "{bad:?}"
            );
        }
        assert_eq!(exchange("GSSAPI", &[(b"\0alice\0pw", true)]), none);
    }

    #[test]
    fn a_new_handshake_forgets_the_principal() {
        let mut s = Session::default();
        assert_eq!(s.authentication(), &Authentication::None);
        s.handshake("PLAIN");
        let step = s.authenticate(b"\0alice\0pw");
        s.answered(step, true);
        assert_eq!(s.authentication(), &user("alice"));
        // Re-authentication (KIP-368): nobody until the broker accepts the new exchange, and
        // an answer to the abandoned exchange commits nothing.
        s.handshake("PLAIN");
        assert_eq!(s.authentication(), &Authentication::NoPrincipal);
        let stale = s.authenticate(b"\0mallory\0pw");
        s.handshake("PLAIN");
        s.answered(stale, true);
        assert_eq!(s.authentication(), &Authentication::NoPrincipal);
        let step = s.authenticate(b"\0alice\0pw");
        s.answered(step, true);
        assert_eq!(s.authentication(), &user("alice"));
    }

    #[test]
    fn resolution_order_and_mapping() {
        let mut r = Resolver::default();
        let alice = user("alice");
        let none = Authentication::None;
        assert_eq!(r.consumer(&alice, Some("app-1")), Some("alice"));
        assert_eq!(r.consumer(&none, Some("app-1")), Some("app-1"));
        assert_eq!(r.consumer(&none, Some("")), None);
        // Authenticating, or authenticated by a mechanism whose name the proxy cannot read:
        // no identity, and no fallback to the client id.
        assert_eq!(
            r.consumer(&Authentication::NoPrincipal, Some("app-1")),
            None
        );
        r.map.insert("app-1".into(), "consumer-1".into());
        assert_eq!(r.consumer(&none, Some("app-1")), Some("consumer-1"));
        r.source = Source::Principal;
        assert_eq!(r.consumer(&none, Some("app-1")), None);
        assert_eq!(r.consumer(&alice, Some("app-1")), Some("alice"));
        r.source = Source::ClientId;
        assert_eq!(r.consumer(&alice, Some("app-1")), Some("consumer-1"));
    }
}
