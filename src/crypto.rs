//! Data encrypted at rest (DESIGN §14): two-factor secrets are sealed with AES-256-GCM under a
//! key derived (HKDF-SHA256) from `DATA_KEY`, or from the session key when no separate key is
//! set. Each sealed value is bound to the row it belongs to, so one account's secret cannot be
//! copied into another's.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

/// The key that seals data at rest.
#[derive(Clone)]
pub struct DataKey(Aes256Gcm);

impl DataKey {
    /// Derives the key from secret material (at least 32 bytes of it).
    pub fn derive(material: &[u8]) -> DataKey {
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"gatehouse data key"), material);
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8160; expand cannot fail.
        let _ = hkdf.expand(b"aes-256-gcm v1", &mut key);
        DataKey(Aes256Gcm::new(&key.into()))
    }

    /// `plain` sealed for `context` (what it belongs to): nonce, then ciphertext and tag.
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: context,
        };
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        [nonce.as_slice(), &sealed].concat()
    }

    /// What `seal` sealed for the same `context`; None for anything else (another key, another
    /// context, altered bytes).
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context,
        };
        self.0.decrypt(Nonce::from_slice(nonce), payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::DataKey;

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_context() {
        let key = DataKey::derive(&[7u8; 64]);
        let sealed = key.seal(b"secret", b"user:1");
        assert_ne!(&sealed[12..], b"secret".as_slice());
        assert_eq!(
            key.open(&sealed, b"user:1").as_deref(),
            Some(b"secret".as_slice())
        );
        assert_eq!(key.open(&sealed, b"user:2"), None);
        assert_eq!(DataKey::derive(&[8u8; 64]).open(&sealed, b"user:1"), None);
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert_eq!(key.open(&altered, b"user:1"), None);
        assert_eq!(key.open(&sealed[..10], b"user:1"), None);
        // A fresh nonce each time: the same secret never seals to the same bytes.
        assert_ne!(key.seal(b"secret", b"user:1"), sealed);
    }
}
