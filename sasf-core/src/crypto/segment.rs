//! Sealing and opening annotation segments (`docs/FORMAT.md` §21.3).
//!
//! Each segment has its own key, derived from the file's segment key and the segment's
//! random nonce, so that an append torn and written again never reuses an AES-GCM
//! (key, nonce) pair with different plaintext, and two segments never share a key.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{label, tags_equal, Gcm, GcmBackend, Integrity, Tag};
use crate::format::segment::SEGMENT_HEADER_LEN;

/// Label of a segment's own key, derived from the file's segment key.
pub const SEGMENT_KEY_LABEL: &[u8] = b"SASF-v2/segment-key";

/// How a file's annotation segments are sealed and opened.
pub struct SegmentCrypto {
    level: Integrity,
    /// The file's segment key (levels 2 and 3).
    base: Option<Zeroizing<[u8; 32]>>,
    backend: GcmBackend,
}

impl std::fmt::Debug for SegmentCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SegmentCrypto({})", self.level.name())
    }
}

impl SegmentCrypto {
    /// Level 1: segments are tagged with SHA-256 and need no key.
    pub fn keyless() -> SegmentCrypto {
        SegmentCrypto {
            level: Integrity::Keyless,
            base: None,
            backend: GcmBackend::DEFAULT,
        }
    }

    pub(crate) fn keyed(
        level: Integrity,
        base: Zeroizing<[u8; 32]>,
        backend: GcmBackend,
    ) -> SegmentCrypto {
        SegmentCrypto {
            level,
            base: Some(base),
            backend,
        }
    }

    /// The file's integrity level.
    pub fn level(&self) -> Integrity {
        self.level
    }

    /// The tag length: 32 at levels 1 and 2, 16 at level 3.
    pub fn tag_len(&self) -> usize {
        self.level.tag_len()
    }

    fn own_key(&self, nonce: &[u8; 16]) -> Zeroizing<[u8; 32]> {
        let base = self.base.as_ref().expect("keyed levels have a segment key");
        let hk = Hkdf::<Sha256>::from_prk(&base[..]).expect("32-byte PRK");
        let mut info = [0u8; SEGMENT_KEY_LABEL.len() + 16];
        info[..SEGMENT_KEY_LABEL.len()].copy_from_slice(SEGMENT_KEY_LABEL);
        info[SEGMENT_KEY_LABEL.len()..].copy_from_slice(nonce);
        let mut k = Zeroizing::new([0u8; 32]);
        hk.expand(&info, &mut k[..]).expect("32-byte HKDF output");
        k
    }

    /// Seals `body` in place (encrypts it at level 3); returns the tag.
    pub(crate) fn seal(
        &self,
        h: &[u8; 32],
        header: &[u8; SEGMENT_HEADER_LEN],
        body: &mut [u8],
    ) -> Tag {
        let nonce: [u8; 16] = header[24..40].try_into().expect("16 bytes");
        let mut bytes = [0u8; 32];
        match self.level {
            Integrity::Keyless => {
                let mut d = Sha256::new();
                d.update(label(Integrity::Keyless, "segment").as_bytes());
                d.update(h);
                d.update(header);
                d.update(&*body);
                bytes.copy_from_slice(&d.finalize());
                Tag { bytes, len: 32 }
            }
            Integrity::Hmac => {
                let k = self.own_key(&nonce);
                let mut mac =
                    <Hmac<Sha256> as Mac>::new_from_slice(&k[..]).expect("HMAC takes any key");
                mac.update(h);
                mac.update(header);
                mac.update(body);
                bytes.copy_from_slice(&mac.finalize().into_bytes());
                Tag { bytes, len: 32 }
            }
            Integrity::Encrypted => {
                let k = self.own_key(&nonce);
                let gcm = Gcm::new(self.backend, &k);
                let mut aad = [0u8; 32 + SEGMENT_HEADER_LEN];
                aad[..32].copy_from_slice(h);
                aad[32..].copy_from_slice(header);
                bytes[..16].copy_from_slice(&gcm.seal(&[0u8; 12], &aad, body));
                Tag { bytes, len: 16 }
            }
        }
    }

    /// Opens `body` in place if `tag` verifies (compared in constant time). On failure
    /// the body's contents are unspecified.
    pub(crate) fn open(
        &self,
        h: &[u8; 32],
        header: &[u8; SEGMENT_HEADER_LEN],
        body: &mut [u8],
        tag: &[u8],
    ) -> bool {
        match self.level {
            Integrity::Keyless | Integrity::Hmac => {
                let expect = self.seal(h, header, body);
                tags_equal(expect.as_slice(), tag)
            }
            Integrity::Encrypted => {
                let nonce: [u8; 16] = header[24..40].try_into().expect("16 bytes");
                let k = self.own_key(&nonce);
                let gcm = Gcm::new(self.backend, &k);
                let mut aad = [0u8; 32 + SEGMENT_HEADER_LEN];
                aad[..32].copy_from_slice(h);
                aad[32..].copy_from_slice(header);
                gcm.open(&[0u8; 12], &aad, body, tag)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(nonce: u8) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[24..40].fill(nonce);
        b
    }

    #[test]
    fn segments_open_only_with_their_header_file_and_key() {
        for level in [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted] {
            let c = |k: u8| match level {
                Integrity::Keyless => SegmentCrypto::keyless(),
                _ => SegmentCrypto::keyed(level, Zeroizing::new([k; 32]), GcmBackend::DEFAULT),
            };
            let (h, hdr) = ([1u8; 32], header(5));
            let mut body = b"annotation record".to_vec();
            let tag = c(1).seal(&h, &hdr, &mut body);
            assert_eq!(body != b"annotation record", level == Integrity::Encrypted);
            let mut b = body.clone();
            assert!(c(1).open(&h, &hdr, &mut b, tag.as_slice()), "{level:?}");
            assert_eq!(b, b"annotation record");
            let mut b = body.clone();
            assert!(
                !c(1).open(&[2u8; 32], &hdr, &mut b, tag.as_slice()),
                "other file"
            );
            let mut b = body.clone();
            assert!(
                !c(1).open(&h, &header(6), &mut b, tag.as_slice()),
                "other header"
            );
            if level != Integrity::Keyless {
                let mut b = body.clone();
                assert!(!c(2).open(&h, &hdr, &mut b, tag.as_slice()), "other key");
            }
            let mut b = body.clone();
            b[0] ^= 1;
            assert!(!c(1).open(&h, &hdr, &mut b, tag.as_slice()), "changed body");
        }
    }

    #[test]
    fn each_nonce_gives_its_own_ciphertext() {
        let c = SegmentCrypto::keyed(
            Integrity::Encrypted,
            Zeroizing::new([1; 32]),
            GcmBackend::DEFAULT,
        );
        let (mut a, mut b) = (vec![0u8; 32], vec![0u8; 32]);
        c.seal(&[0; 32], &header(1), &mut a);
        c.seal(&[0; 32], &header(2), &mut b);
        assert_ne!(a, b);
    }
}
