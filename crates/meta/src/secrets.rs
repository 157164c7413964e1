//! Secret material: password hashes, API keys, one-time tokens and the server secret.
//!
//! Nothing here is ever logged: [`ServerSecret`]'s `Debug` is redacted, and API keys and
//! tokens are returned to the caller once and stored only as keyed hashes.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Every API key starts with this, so that secret scanners and humans recognise it.
pub const API_KEY_PREFIX: &str = "lw_live_";
/// How many characters of a key are kept in clear for display (`lw_live_` + 8 hex).
pub const API_KEY_DISPLAY_LEN: usize = 16;

/// The server-wide secret: keys the API-key HMAC and signs session tokens.
#[derive(Clone)]
pub struct ServerSecret(Vec<u8>);

impl ServerSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// A sub-key for one purpose, so that a token signature can never double as a key hash.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        hmac_sha256(&self.0, purpose.as_bytes()).to_vec()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    pub fn from_hex(raw: &str) -> Option<Self> {
        let bytes = hex::decode(raw.trim()).ok()?;
        (bytes.len() >= 32).then_some(Self(bytes))
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(<redacted>)")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Hex of `bytes` random bytes from the OS generator.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Argon2id hash in PHC string form.
pub fn hash_password(password: &str) -> String {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).expect("16 bytes is a valid salt length");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// A hash to compare against when the user does not exist, so that a login for an
/// unknown email takes as long as one with a wrong password.
pub fn dummy_password_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("lakeward-timing-equaliser"))
}

/// A newly minted API key: the plaintext goes to the user once, the rest is stored.
pub struct NewKeyMaterial {
    pub plaintext: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate_api_key(secret: &ServerSecret) -> NewKeyMaterial {
    let plaintext = format!("{API_KEY_PREFIX}{}", random_hex(20));
    NewKeyMaterial {
        prefix: plaintext[..API_KEY_DISPLAY_LEN].to_owned(),
        hash: hash_token(secret, "api-key", &plaintext),
        plaintext,
    }
}

/// Whether a string has the shape of an API key (as opposed to a session token).
pub fn looks_like_api_key(token: &str) -> bool {
    token.len() == API_KEY_PREFIX.len() + 40
        && token.starts_with(API_KEY_PREFIX)
        && token[API_KEY_PREFIX.len()..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Keyed hash of a bearer secret (API key, invite token) for storage and lookup.
pub fn hash_token(secret: &ServerSecret, purpose: &str, token: &str) -> String {
    hex::encode(hmac_sha256(&secret.derive(purpose), token.as_bytes()))
}

/// `payload` with its HMAC under the server secret for `purpose` appended: a value the
/// server hands out and takes back unchanged (Flight SQL tickets and statement handles),
/// so any replica with the same secret can trust it without keeping it.
pub fn sign(secret: &ServerSecret, purpose: &str, payload: &[u8]) -> Vec<u8> {
    let mut signed = payload.to_vec();
    signed.extend_from_slice(&hmac_sha256(&secret.derive(purpose), payload));
    signed
}

/// The payload of a value [`sign`] made for `purpose`; `None` if it was altered (or made
/// for another purpose or under another secret). The MAC is compared in constant time.
pub fn verify_signed<'a>(secret: &ServerSecret, purpose: &str, signed: &'a [u8]) -> Option<&'a [u8]> {
    let (payload, mac) = signed.split_at_checked(signed.len().checked_sub(32)?)?;
    let mut check = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret.derive(purpose)).expect("any key length");
    check.update(payload);
    check.verify_slice(mac).ok().map(|_| payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_verify_only_unchanged_and_for_their_purpose() {
        let secret = ServerSecret::new(vec![7; 32]);
        let signed = sign(&secret, "ticket", b"payload");
        assert_eq!(verify_signed(&secret, "ticket", &signed), Some(&b"payload"[..]));
        assert_eq!(verify_signed(&secret, "handle", &signed), None);
        assert_eq!(verify_signed(&ServerSecret::new(vec![8; 32]), "ticket", &signed), None);
        let mut altered = signed.clone();
        altered[0] ^= 1;
        assert_eq!(verify_signed(&secret, "ticket", &altered), None);
        assert_eq!(verify_signed(&secret, "ticket", &signed[..20]), None);
    }

    #[test]
    fn api_keys_have_the_documented_shape_and_are_stored_hashed() {
        let secret = ServerSecret::generate();
        let key = generate_api_key(&secret);
        assert!(looks_like_api_key(&key.plaintext), "{}", key.plaintext);
        assert_eq!(key.plaintext.len(), 48);
        assert_eq!(&key.plaintext[..16], key.prefix);
        assert_eq!(key.hash, hash_token(&secret, "api-key", &key.plaintext));
        assert!(!key.hash.contains(&key.plaintext[8..]));
        // The same key under another server secret hashes differently.
        assert_ne!(key.hash, hash_token(&ServerSecret::generate(), "api-key", &key.plaintext));
    }

    #[test]
    fn key_shape_check_rejects_near_misses() {
        assert!(!looks_like_api_key("lw_live_"));
        assert!(!looks_like_api_key(&format!("lw_test_{}", "a".repeat(40))));
        assert!(!looks_like_api_key(&format!("lw_live_{}", "A".repeat(40))));
        assert!(!looks_like_api_key(&format!("lw_live_{}", "a".repeat(41))));
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse ", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn secret_debug_is_redacted_and_hex_round_trips() {
        let secret = ServerSecret::generate();
        assert_eq!(format!("{secret:?}"), "ServerSecret(<redacted>)");
        assert_eq!(ServerSecret::from_hex(&secret.to_hex()).unwrap().to_hex(), secret.to_hex());
        assert!(ServerSecret::from_hex("abcd").is_none(), "short secrets are refused");
    }
}

/// Webhook signing secrets start with this.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

pub fn generate_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{WEBHOOK_SECRET_PREFIX}{}", hex::encode(bytes))
}

/// Encrypts a secret that must be used again later (a webhook's signing secret) under a
/// 32-byte key: hex of nonce || AES-256-GCM ciphertext.
pub fn seal(key: &[u8], plaintext: &str) -> String {
    use aes_gcm::aead::{Aead, KeyInit as _};
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key[..32]).expect("a 32-byte key");
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher.encrypt(&nonce.into(), plaintext.as_bytes()).expect("encryption does not fail");
    format!("{}{}", hex::encode(nonce), hex::encode(sealed))
}

/// The secret `seal` encrypted, or `None` if it was sealed under another key or altered.
pub fn unseal(key: &[u8], sealed: &str) -> Option<String> {
    use aes_gcm::aead::{Aead, KeyInit as _};
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key[..32]).ok()?;
    let nonce: [u8; 12] = bytes[..12].try_into().ok()?;
    String::from_utf8(cipher.decrypt(&nonce.into(), &bytes[12..]).ok()?).ok()
}

/// The signature of a webhook delivery: hex HMAC-SHA256 over `"{timestamp}.{body}"`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    hex::encode(hmac_sha256(secret.as_bytes(), &message))
}

#[cfg(test)]
mod sealing_tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_under_their_key() {
        let key = ServerSecret::generate().derive("webhook-secrets");
        let other = ServerSecret::generate().derive("webhook-secrets");
        let secret = generate_webhook_secret();
        let sealed = seal(&key, &secret);
        assert!(!sealed.contains(&secret[6..]), "not stored in clear");
        assert_eq!(unseal(&key, &sealed).as_deref(), Some(secret.as_str()));
        assert_eq!(unseal(&other, &sealed), None);
        let mut tampered = sealed.clone().into_bytes();
        tampered[30] = if tampered[30] == b'0' { b'1' } else { b'0' };
        assert_eq!(unseal(&key, &String::from_utf8(tampered).unwrap()), None);
        assert_ne!(seal(&key, &secret), sealed, "a fresh nonce every time");
    }

    #[test]
    fn webhook_signatures_cover_timestamp_and_body() {
        let a = webhook_signature("whsec_x", 1700000000, b"{}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, webhook_signature("whsec_x", 1700000001, b"{}"));
        assert_ne!(a, webhook_signature("whsec_x", 1700000000, b"{ }"));
        assert_ne!(a, webhook_signature("whsec_y", 1700000000, b"{}"));
    }
}
