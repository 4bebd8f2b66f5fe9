//! Reading the annotation segments that follow a file's END chunk
//! (`docs/FORMAT.md` §21): every complete segment is authenticated, checked against
//! the chain and kept; a cut-off last segment is reported, never released.

use std::io::Read;

use crate::crypto::segment::SegmentCrypto;
use crate::crypto::{hex, Integrity, VerifyingKey};
use crate::error::{Error, ErrorKind, Place, Result};
use crate::format::segment::*;
use crate::io::reader::read_full;
use crate::io::Limits;

/// A segment's signature block and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSignature {
    /// The author's Ed25519 public key as stored.
    pub public_key: [u8; 32],
    /// The signer id of that key (`docs/FORMAT.md` §5.5), or `None` if the 32 bytes
    /// are not a valid public key.
    pub signer_id: Option<[u8; 16]>,
    /// Whether the signature verifies over the segment's digest.
    pub valid: bool,
}

impl SegmentSignature {
    /// The signer id in hex, or `"invalid-key"`.
    pub fn signer_hex(&self) -> String {
        self.signer_id
            .map_or_else(|| "invalid-key".into(), |id| hex(&id))
    }
}

/// One authenticated annotation segment.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its number (0 for the first after END).
    pub number: u32,
    /// File offset of its first byte.
    pub offset: u64,
    /// Its length in bytes, trailer included.
    pub len: u64,
    /// The record, as the JSON text stored (decrypted at level 3).
    pub record: Vec<u8>,
    /// Its digest: the next segment's link.
    pub digest: [u8; 32],
    /// Its signature, when it carries one.
    pub signature: Option<SegmentSignature>,
}

/// The annotation segments of a file, read after its END chunk.
#[derive(Debug, Clone, Default)]
pub struct Segments {
    /// Every complete segment, in order.
    pub list: Vec<Segment>,
    /// File offset of a last segment whose writing was cut off (a torn append), if
    /// any: the file verifies as it did before that append.
    pub incomplete_at: Option<u64>,
    /// File offset just after the last complete segment (or the END chunk).
    pub end: u64,
    /// The head of the chain: the last segment's digest, or the file digest when there
    /// is no segment. What an external ledger pins after annotations.
    pub head: [u8; 32],
}

/// Checks a segment's record; the annotation model plugs in here.
pub(crate) type RecordCheck<'a> = &'a dyn Fn(&[u8], Place) -> Result<()>;

/// Reads segments from `input`, which starts at file offset `start` (just after the END
/// chunk, or after segment `first - 1`, whose digest is `link`), to the end of the
/// input. Without `crypto` (an auditor of a level-2 or level-3 file, who holds no key)
/// tags are not checked and records not opened: `record` is left empty.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_segments<R: Read>(
    input: &mut R,
    start: u64,
    level: Integrity,
    crypto: Option<&SegmentCrypto>,
    h: &[u8; 32],
    first: u32,
    link: &[u8; 32],
    limits: &Limits,
    check: RecordCheck<'_>,
) -> Result<Segments> {
    let tag_len = level.tag_len();
    let mut out = Segments {
        list: Vec::new(),
        incomplete_at: None,
        end: start,
        head: *link,
    };
    let mut kept = 0usize;
    let mut buf = Vec::new();
    loop {
        let at = out.end;
        let number = first + out.list.len() as u32;
        let mut hb = [0u8; SEGMENT_HEADER_LEN];
        let n = read_full(input, &mut hb)?;
        if n == 0 {
            return Ok(out);
        }
        let header = match parse_start(&hb[..n], number, at) {
            Start::Header(h) => h,
            Start::Partial => {
                out.incomplete_at = Some(at);
                return Ok(out);
            }
            Start::Not(e) => return Err(e),
        };
        let place = Place::segment(number, at);
        if number >= MAX_SEGMENTS {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "annotation segments",
                found: number as u64 + 1,
                limit: MAX_SEGMENTS as u64,
                place,
            }));
        }
        let total = header.total_len(tag_len);
        buf.resize(total - SEGMENT_HEADER_LEN, 0);
        let got = read_full(input, &mut buf)?;
        if got < buf.len() {
            // The header promised more than the input holds: a cut-off append, unless
            // what is there ends with a trailer stating exactly its length. A torn
            // append cannot end so (the trailer is written last, and neither a record's
            // JSON, its zero padding nor ciphertext can hold one by chance): the
            // header's length or flags were changed, which no repair may "trim".
            let have = SEGMENT_HEADER_LEN + got;
            if got >= SEGMENT_TRAILER_LEN {
                let t: &[u8; SEGMENT_TRAILER_LEN] = buf[got - SEGMENT_TRAILER_LEN..got]
                    .try_into()
                    .expect("16 bytes");
                if parse_trailer(t) == Some(have as u64) {
                    return Err(Error::malformed(
                        "annotation segment header disagrees with its trailer (its length or flags were changed)",
                        place,
                    ));
                }
            }
            // Nothing of it is released.
            out.incomplete_at = Some(at);
            return Ok(out);
        }
        let body_len = header.body_len as usize;
        let (body, rest) = buf.split_at_mut(body_len);
        let (tag, rest) = rest.split_at(tag_len);
        let trailer_at = rest.len() - SEGMENT_TRAILER_LEN;
        let (sig, trl) = rest.split_at(trailer_at);
        let digest = segment_digest(&hb, body, tag);
        if header.link != out.head {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        if crypto.is_some_and(|c| !c.open(h, &hb, body, tag)) {
            return Err(Error::new(ErrorKind::AuthFailed { place }));
        }
        let trl: &[u8; SEGMENT_TRAILER_LEN] = trl.try_into().expect("16 bytes");
        if parse_trailer(trl) != Some(total as u64) {
            return Err(Error::malformed(
                "annotation segment trailer does not state the segment's length",
                place,
            ));
        }
        let record = match crypto {
            Some(_) => {
                let record = unpad_record(body, place)?;
                if let Err(e) = crate::meta::check_json_limits(
                    record,
                    limits.max_json_len,
                    limits.max_json_depth,
                ) {
                    return Err(Error::new(ErrorKind::LimitExceeded {
                        what: e.0,
                        found: e.1,
                        limit: e.2,
                        place,
                    }));
                }
                check(record, place)?;
                record
            }
            None => &[][..],
        };
        kept += record.len() + 256;
        if kept > limits.max_metadata_bytes {
            return Err(Error::new(ErrorKind::LimitExceeded {
                what: "metadata budget (annotation segments kept)",
                found: kept as u64,
                limit: limits.max_metadata_bytes as u64,
                place,
            }));
        }
        let signature = header.signed().then(|| {
            let pk: [u8; 32] = sig[..32].try_into().expect("32 bytes");
            let s: [u8; 64] = sig[32..96].try_into().expect("64 bytes");
            let key = VerifyingKey::from_bytes(&pk).ok();
            let valid = key
                .as_ref()
                .is_some_and(|k| k.verify_message(&segment_signed_message(h, &digest), &s));
            SegmentSignature {
                public_key: pk,
                signer_id: key.map(|k| k.id()),
                valid,
            }
        });
        out.list.push(Segment {
            number,
            offset: at,
            len: total as u64,
            record: record.to_vec(),
            digest,
            signature,
        });
        out.end = at + total as u64;
        out.head = digest;
    }
}

/// The bytes of segment `number` holding `record` (JSON text), chained to `link`,
/// sealed under `crypto` with the random `nonce`, and signed when `signer` is given.
pub(crate) fn seal_segment(
    crypto: &SegmentCrypto,
    h: &[u8; 32],
    number: u32,
    link: &[u8; 32],
    record: &[u8],
    nonce: [u8; 16],
    signer: Option<&crate::crypto::SigningKey>,
) -> Result<Vec<u8>> {
    let mut body = pad_record(record).ok_or_else(|| {
        Error::new(ErrorKind::LimitExceeded {
            what: "annotation record length",
            found: record.len() as u64,
            limit: (MAX_SEGMENT_BODY - 4) as u64,
            place: Place::segment(number, 0),
        })
    })?;
    let header = SegmentHeader {
        number,
        body_len: body.len() as u32,
        flags: if signer.is_some() {
            SEGMENT_FLAG_SIGNED
        } else {
            0
        },
        nonce,
        link: *link,
    };
    let hb = header.to_bytes();
    let tag = crypto.seal(h, &hb, &mut body);
    let total = header.total_len(crypto.tag_len());
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&hb);
    out.extend_from_slice(&body);
    out.extend_from_slice(tag.as_slice());
    if let Some(k) = signer {
        let digest = segment_digest(&hb, &body, tag.as_slice());
        out.extend_from_slice(&k.verifying_key().to_bytes());
        out.extend_from_slice(&k.sign_message(&segment_signed_message(h, &digest)));
    }
    out.extend_from_slice(&trailer(total));
    debug_assert_eq!(out.len(), total);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{GcmBackend, Integrity, SigningKey};

    fn crypto(level: Integrity) -> SegmentCrypto {
        match level {
            Integrity::Keyless => SegmentCrypto::keyless(),
            _ => SegmentCrypto::keyed(level, zeroize::Zeroizing::new([3; 32]), GcmBackend::DEFAULT),
        }
    }

    fn ok(_: &[u8], _: Place) -> Result<()> {
        Ok(())
    }

    /// Three segments after a file digest of 7s, the second signed.
    fn chain(level: Integrity) -> (Vec<u8>, Vec<[u8; 32]>) {
        let c = crypto(level);
        let sk = SigningKey::from_seed([5; 32]);
        let (mut bytes, mut digests, mut link) = (Vec::new(), Vec::new(), [7u8; 32]);
        for k in 0..3u32 {
            let rec = format!("{{\"n\":{k}}}");
            let s = seal_segment(
                &c,
                &[1; 32],
                k,
                &link,
                rec.as_bytes(),
                [k as u8; 16],
                (k == 1).then_some(&sk),
            )
            .unwrap();
            let hb: [u8; SEGMENT_HEADER_LEN] = s[..SEGMENT_HEADER_LEN].try_into().unwrap();
            let body_len = u32::from_be_bytes(s[12..16].try_into().unwrap()) as usize;
            let tag =
                &s[SEGMENT_HEADER_LEN + body_len..SEGMENT_HEADER_LEN + body_len + c.tag_len()];
            link = segment_digest(
                &hb,
                &s[SEGMENT_HEADER_LEN..SEGMENT_HEADER_LEN + body_len],
                tag,
            );
            digests.push(link);
            bytes.extend_from_slice(&s);
        }
        (bytes, digests)
    }

    fn read(level: Integrity, bytes: &[u8]) -> Result<Segments> {
        read_segments(
            &mut &bytes[..],
            1000,
            level,
            Some(&crypto(level)),
            &[1; 32],
            0,
            &[7; 32],
            &Limits::default(),
            &ok,
        )
    }

    #[test]
    fn a_chain_reads_back_and_every_cut_is_incomplete_never_released() {
        for level in [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted] {
            let (bytes, digests) = chain(level);
            let s = read(level, &bytes).unwrap();
            assert_eq!(s.list.len(), 3);
            assert_eq!(s.list[2].record, b"{\"n\":2}");
            assert_eq!(s.head, digests[2]);
            assert!(s.list[1].signature.as_ref().unwrap().valid);
            assert!(s.list[0].signature.is_none());
            assert_eq!(s.end, 1000 + bytes.len() as u64);
            let starts: Vec<u64> = s.list.iter().map(|x| x.offset - 1000).collect();
            for cut in 1..bytes.len() {
                let r = read(level, &bytes[..cut]).unwrap();
                // Segments complete within the cut: those whose successor starts by it.
                let complete = starts
                    .iter()
                    .filter(|&&o| o != 0 && o <= cut as u64)
                    .count();
                assert_eq!(r.list.len(), complete, "{level:?} cut {cut}");
                let boundary = starts.contains(&(cut as u64));
                assert_eq!(r.incomplete_at.is_some(), !boundary, "{level:?} cut {cut}");
            }
        }
    }

    #[test]
    fn a_changed_byte_of_a_complete_segment_is_an_error_or_a_dead_signature() {
        for level in [Integrity::Keyless, Integrity::Hmac, Integrity::Encrypted] {
            let (bytes, _) = chain(level);
            let s = read(level, &bytes).unwrap();
            let sig = &s.list[1];
            let sig_at = (sig.offset - 1000 + sig.len) as usize
                - SEGMENT_TRAILER_LEN
                - SEGMENT_SIGNATURE_LEN;
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0x01;
                match read(level, &b) {
                    Err(_) => {}
                    Ok(r) if r.incomplete_at.is_some() => {
                        panic!("{level:?} byte {i}: a changed complete segment looks torn: {r:?}")
                    }
                    Ok(r) => {
                        // Only a flip inside the signature block survives, as a
                        // signature that no longer verifies.
                        assert!(
                            (sig_at..sig_at + SEGMENT_SIGNATURE_LEN).contains(&i),
                            "{level:?} byte {i}"
                        );
                        assert!(!r.list[1].signature.as_ref().unwrap().valid);
                    }
                }
            }
        }
    }

    #[test]
    fn a_segment_from_another_file_or_place_fails() {
        let (bytes, _) = chain(Integrity::Hmac);
        let other = read_segments(
            &mut &bytes[..],
            0,
            Integrity::Hmac,
            Some(&crypto(Integrity::Hmac)),
            &[2; 32],
            0,
            &[7; 32],
            &Limits::default(),
            &ok,
        );
        assert_eq!(other.unwrap_err().class(), "auth-failed");
        let relinked = read_segments(
            &mut &bytes[..],
            0,
            Integrity::Hmac,
            Some(&crypto(Integrity::Hmac)),
            &[1; 32],
            0,
            &[8; 32],
            &Limits::default(),
            &ok,
        );
        assert_eq!(relinked.unwrap_err().class(), "auth-failed");
    }
}
