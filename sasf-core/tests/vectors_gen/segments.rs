//! Annotation segments (`docs/FORMAT.md` §21), modelled from the specification with
//! the primitives only: the segment header `G` (§21.1), the padded body and its
//! buckets, the per-segment key (`HKDF-Expand(PRK, "SASF-v2/<suite>/segment" || C)`,
//! then `HKDF-Expand(PRK = segment key, "SASF-v2/segment-key" || nonce)`, §21.3), the
//! tag of each level, the digest and the chain (§21.2), the Ed25519 signature block
//! (§21.4) and the trailer. Nonces are fixed (derived from the vector's name and the
//! segment's number) so the vectors are the same on every run.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::{
    base, hex_sha, hmac, model_file_digest, sha, suite, At, Gen, Hdr, KeyUse, Model,
    OTHER_SIGNER_SEED, SIGNER_SEED, WRONG_KEY,
};

const SEG_MAGIC: [u8; 8] = [0x89, b'S', b'A', b'N', b'N', 0x0D, 0x0A, 0x1A];
const SEG_TAIL: [u8; 8] = *b"SANN-END";
/// Segment body lengths (§21.1).
const SEG_BUCKETS: [usize; 7] = [256, 1024, 4096, 16384, 65536, 262144, 1048576];

/// The file's segment key (levels 2 and 3): `HKDF-Expand(PRK, "SASF-v2/<suite>/segment"
/// || C, 32)` with the PRK of §4.3 (HKDF-Extract(salt, DK)).
fn segment_key(hdr: &Hdr) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(&hdr.salt), &hdr.dk);
    let mut info = format!("SASF-v2/{}/segment", suite(hdr.level)).into_bytes();
    info.extend_from_slice(&hdr.ctx);
    let mut o = [0u8; 32];
    hk.expand(&info, &mut o).expect("32 bytes");
    o
}

/// A segment's own key `K_k`.
fn own_key(hdr: &Hdr, nonce: &[u8; 16]) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::from_prk(&segment_key(hdr)).expect("32-byte PRK");
    let info = [&b"SASF-v2/segment-key"[..], nonce].concat();
    let mut o = [0u8; 32];
    hk.expand(&info, &mut o).expect("32 bytes");
    o
}

/// The padded body plaintext of a record: `u32 n || JSON || zeros` up to the smallest
/// bucket ≥ 4 + n.
fn pad(json: &[u8]) -> Vec<u8> {
    let l = *SEG_BUCKETS
        .iter()
        .find(|&&b| b >= 4 + json.len())
        .expect("fits 1 MiB");
    let mut b = (json.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(json);
    b.resize(l, 0);
    b
}

/// One segment to write, with every field that a vector may set to break a rule.
#[derive(Clone)]
pub struct Seg {
    pub json: Vec<u8>,
    /// The body plaintext, when not `pad(json)`.
    pub body: Option<Vec<u8>>,
    /// The number field, when not the segment's position.
    pub number: Option<u32>,
    /// The body length field, when not the body's length.
    pub body_len: Option<u32>,
    /// Extra flag bits (bit 0 is set from `signer`).
    pub flags: u32,
    pub reserved: u32,
    /// The link, when not the chain's.
    pub link: Option<[u8; 32]>,
    /// Signed by this Ed25519 seed.
    pub signer: Option<[u8; 32]>,
    /// Signature block edited after signing (public key replaced, or a byte flipped).
    pub sig_edit: Option<SigEdit>,
    /// Sealed with the keys of this header (another data key) instead of the file's.
    pub keys_of: Option<Hdr>,
    /// Sealed (and signed) for this header hash instead of the file's.
    pub h: Option<[u8; 32]>,
    /// Added to the segment length the trailer states.
    pub trailer_delta: u64,
    /// The tail magic, when not "SANN-END".
    pub tail: Option<[u8; 8]>,
}

#[derive(Clone, Copy)]
pub enum SigEdit {
    FlipSignature,
    OtherKey,
}

impl Seg {
    pub fn new(json: &str) -> Seg {
        Seg {
            json: json.as_bytes().to_vec(),
            body: None,
            number: None,
            body_len: None,
            flags: 0,
            reserved: 0,
            link: None,
            signer: None,
            sig_edit: None,
            keys_of: None,
            h: None,
            trailer_delta: 0,
            tail: None,
        }
    }
    fn signed(mut self) -> Seg {
        self.signer = Some(SIGNER_SEED);
        self
    }
}

/// What the model wrote for one segment.
#[derive(Clone)]
pub struct Written {
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub digest: [u8; 32],
    pub json: Vec<u8>,
    /// `none`, `valid` or `invalid`.
    pub signature: &'static str,
}

/// Seals segment `k` of `m`'s file, linked to `link`, with `nonce`.
fn seal(m: &Model, k: u32, link: [u8; 32], nonce: [u8; 16], s: &Seg) -> (Vec<u8>, [u8; 32]) {
    let hdr = s.keys_of.as_ref().unwrap_or(&m.hdr);
    let h = s.h.unwrap_or_else(|| m.hdr.h());
    let mut body = s.body.clone().unwrap_or_else(|| pad(&s.json));
    let flags = s.flags | u32::from(s.signer.is_some());
    let mut g = SEG_MAGIC.to_vec();
    g.extend_from_slice(&s.number.unwrap_or(k).to_be_bytes());
    g.extend_from_slice(&s.body_len.unwrap_or(body.len() as u32).to_be_bytes());
    g.extend_from_slice(&flags.to_be_bytes());
    g.extend_from_slice(&s.reserved.to_be_bytes());
    g.extend_from_slice(&nonce);
    g.extend_from_slice(&s.link.unwrap_or(link));
    assert_eq!(g.len(), 72);
    let tag = match hdr.level {
        1 => sha(&[b"SASF-v2/SHA-256/segment", &h, &g, &body]).to_vec(),
        2 => hmac(&own_key(hdr, &nonce), &[&h, &g, &body]).to_vec(),
        _ => {
            let cipher = Aes256Gcm::new_from_slice(&own_key(hdr, &nonce)).expect("32 bytes");
            let aad = [&h[..], &g].concat();
            cipher
                .encrypt_in_place_detached(Nonce::from_slice(&[0u8; 12]), &aad, &mut body)
                .expect("small body")
                .to_vec()
        }
    };
    let digest = sha(&[b"SASF-v2/segment", &g, &body, &tag]);
    let mut out = [g, body, tag].concat();
    if let Some(seed) = &s.signer {
        use ed25519_dalek::Signer;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let msg = [&b"SASF-v2/segment-signature"[..], &h, &digest].concat();
        let mut pk = key.verifying_key().to_bytes();
        let mut sig = key.sign(&msg).to_bytes();
        match s.sig_edit {
            Some(SigEdit::FlipSignature) => sig[10] ^= 0x01,
            Some(SigEdit::OtherKey) => pk = super::signer_public(&OTHER_SIGNER_SEED),
            None => {}
        }
        out.extend_from_slice(&pk);
        out.extend_from_slice(&sig);
    }
    let total = out.len() as u64 + 16;
    out.extend_from_slice(&(total + s.trailer_delta).to_be_bytes());
    out.extend_from_slice(&s.tail.unwrap_or(SEG_TAIL));
    (out, digest)
}

/// Segment `k` of `m`'s file as the model seals it: `json` padded, linked to `link`,
/// with `nonce`, signed by [`SIGNER_SEED`] when `signed`. Returns its bytes and digest
/// (for checking the crate's appender against the model).
pub fn model_segment(
    m: &Model,
    k: u32,
    link: [u8; 32],
    nonce: [u8; 16],
    json: &[u8],
    signed: bool,
) -> (Vec<u8>, [u8; 32]) {
    let mut s = Seg::new(std::str::from_utf8(json).expect("JSON text"));
    if signed {
        s = s.signed();
    }
    seal(m, k, link, nonce, &s)
}

/// The file digest of `m`'s file: the link of its segment 0.
pub fn file_digest(m: &Model) -> [u8; 32] {
    model_file_digest(m)
}

/// The fixed nonce of segment `k` of vector `name`.
fn nonce_for(name: &str, k: u32) -> [u8; 16] {
    sha(&[
        b"sasf test vectors: segment nonce ",
        name.as_bytes(),
        &k.to_be_bytes(),
    ])[..16]
        .try_into()
        .unwrap()
}

/// `m`'s file followed by `segs`, chained from its file digest. Returns the bytes and
/// what was written for each segment.
pub fn with_segments(m: &Model, name: &str, segs: &[Seg]) -> (Vec<u8>, Vec<Written>) {
    let mut bytes = m.bytes();
    let mut link = model_file_digest(m);
    let mut out = Vec::new();
    for (k, s) in segs.iter().enumerate() {
        let k = k as u32;
        let (b, d) = seal(m, k, link, nonce_for(name, k), s);
        let signature = match (s.signer, s.sig_edit) {
            (None, _) => "none",
            (Some(_), None) => "valid",
            (Some(_), Some(_)) => "invalid",
        };
        out.push(Written {
            offset: bytes.len() as u64,
            bytes: b.clone(),
            digest: d,
            json: s.json.clone(),
            signature,
        });
        bytes.extend_from_slice(&b);
        link = d;
    }
    (bytes, out)
}

/// The success lines of a file whose complete segments are `w`, with a torn one at
/// `incomplete`, if any.
fn lines(m: &Model, w: &[Written], incomplete: Option<u64>) -> Vec<String> {
    let mut text = Vec::new();
    for s in w {
        assert!(!s.json.contains(&b'\n'));
        text.extend_from_slice(&s.json);
        text.push(b'\n');
    }
    let head = w.last().map_or_else(|| model_file_digest(m), |s| s.digest);
    let mut v = vec![
        format!("segments: {}", w.len()),
        format!("segments-sha256: {}", hex_sha(&text)),
        format!("segment-head: {}", hex::encode(head)),
        format!(
            "incomplete-segment: {}",
            incomplete.map_or_else(|| "none".to_string(), |o| o.to_string())
        ),
    ];
    if !w.is_empty() {
        let sigs: Vec<&str> = w.iter().map(|s| s.signature).collect();
        v.push(format!("segment-signatures: {}", sigs.join(",")));
    }
    v
}

pub const TAG: &str =
    r#"{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[{"op":"tag","tag":"escalated"}]}"#;
pub const HOLD: &str = r#"{"by":"legal@example.com","at":"2026-02-03T04:05:06Z","ops":[{"op":"hold","case":"case-17"},{"op":"retention","until":"2030-12-31"},{"op":"attr","key":"team","value":"billing"}],"note":"litigation hold"}"#;
const FORM: &str = r#"{"id":"qa-basic","version":1,"pass_percent":70,"questions":[{"id":"greeting","text":"Did the agent greet the customer by name?","type":"yes_no"},{"id":"empathy","text":"How well did the agent acknowledge the customer's problem?","type":"scale","min":0,"max":4,"weight":2},{"id":"notes","text":"Notes","type":"text","required":false}]}"#;
const ANSWERS: &str = r#"{"form":"qa-basic","version":1,"answers":{"greeting":{"value":true},"empathy":{"value":3,"comment":"good"}}}"#;

/// A questionnaire record with `result` as stored.
fn questionnaire(result: &str) -> String {
    format!(
        r#"{{"by":"qa.lead@example.com","at":"2026-01-05T10:00:00Z","ops":[{{"op":"questionnaire","form":{FORM},"answers":{ANSWERS},"result":{result}}}]}}"#
    )
}

/// The result of [`ANSWERS`] under [`FORM`], by §21.5: greeting 1/1, weight 1:
/// possible 1000, earned ⌊(2000·1·1 + 1)/2⌋ = 1000; empathy 3/4, weight 2: possible
/// 2000, earned ⌊(2000·2·3 + 4)/8⌋ = 1500; notes is text (weight 0). earned 2500,
/// possible 3000, percent_bp ⌊(20000·2500 + 3000)/6000⌋ = 8333; pass: 250000 ≥ 210000.
const RESULT: &str = r#"{"earned_milli":2500,"possible_milli":3000,"percent_bp":8333,"pass":true,"critical_failed":[]}"#;

pub(super) fn segments(g: &mut Gen) {
    for l in [1u8, 2, 3] {
        let m = base(l, &format!("base-{l}"));
        let k = KeyUse::natural(l);
        let ok = |g: &mut Gen, name: &str, comment: &str, segs: &[Seg]| {
            let (bytes, w) = with_segments(&m, name, segs);
            let extra = lines(&m, &w, None);
            g.ok_lines(name, comment, &m, k, &bytes, extra);
        };
        let q = questionnaire(RESULT);
        assert!(q.len() > 252, "the questionnaire needs the 1024 bucket");
        ok(
            g,
            &format!("seg-one-l{l}"),
            "one annotation segment (a tag) after END",
            &[Seg::new(TAG)],
        );
        ok(
            g,
            &format!("seg-three-l{l}"),
            "three chained segments: a tag, a signed questionnaire (1024-byte bucket), a hold with retention, attribute and note",
            &[Seg::new(TAG), Seg::new(&q).signed(), Seg::new(HOLD)],
        );
        ok(
            g,
            &format!("seg-signed-l{l}"),
            "one segment signed by 808182..9e9f (signature valid)",
            &[Seg::new(TAG).signed()],
        );
        let mut bad = Seg::new(TAG).signed();
        bad.sig_edit = Some(SigEdit::FlipSignature);
        ok(
            g,
            &format!("seg-signature-bad-l{l}"),
            "a signed segment whose signature has a bit flipped: read, reported as signed with an invalid signature",
            &[Seg::new(TAG), bad],
        );
        let mut bad = Seg::new(TAG).signed();
        bad.sig_edit = Some(SigEdit::OtherKey);
        ok(
            g,
            &format!("seg-signature-bad-key-l{l}"),
            "a signed segment whose public key is replaced by another signer's: the signature is invalid",
            &[bad],
        );
        if l == 1 {
            // Anyone can append at level 1: a segment made without any key is
            // indistinguishable from the owner's (§21.3, the documented limitation).
            let forged = Seg::new(
                r#"{"by":"mallory@example.com","at":"2026-01-03T00:00:00Z","ops":[{"op":"untag","tag":"escalated"}]}"#,
            );
            ok(
                g,
                "seg-forged-l1",
                "level 1: a segment appended by someone without any key is valid (keyless history is unauthenticated, FORMAT.md §21.3)",
                &[Seg::new(TAG), forged],
            );
        }

        // Torn appends: the bytes of the last segment cut off.
        let name = format!("seg-torn-l{l}");
        let (full, w) = with_segments(&m, &name, &[Seg::new(TAG), Seg::new(HOLD).signed()]);
        let last = &w[1];
        let o = last.offset as usize;
        let len = last.bytes.len();
        let cuts: [(&str, usize, &str); 6] = [
            ("magic", 1, "one byte of the second segment's magic"),
            (
                "header",
                30,
                "the second segment cut inside its header (30 of 72 bytes)",
            ),
            ("body", 72 + 100, "the second segment cut inside its body"),
            (
                "tag",
                len - 16 - 96 - 5,
                "the second segment cut inside its tag",
            ),
            (
                "signature",
                len - 16 - 40,
                "the second segment cut inside its signature block",
            ),
            (
                "trailer",
                len - 3,
                "the second segment cut inside its trailer (all but 3 bytes)",
            ),
        ];
        for (what, n, comment) in cuts {
            let bytes = &full[..o + n];
            let extra = lines(&m, &w[..1], Some(last.offset));
            g.ok_lines(
                &format!("seg-torn-{what}-l{l}"),
                &format!("{comment}: a torn append, reported as incomplete at its offset and not released"),
                &m,
                k,
                bytes,
                extra,
            );
        }
        let (one, w) = with_segments(&m, "seg-torn-first", &[Seg::new(TAG)]);
        let bytes = &one[..w[0].offset as usize + 200];
        let extra = lines(&m, &[], Some(w[0].offset));
        g.ok_lines(
            &format!("seg-torn-first-l{l}"),
            "the first segment cut inside its body: no segment, incomplete at the end of END",
            &m,
            k,
            bytes,
            extra,
        );

        // Errors at a segment.
        let err = |g: &mut Gen, name: &str, comment: &str, segs: &[Seg], at: usize, class: &str| {
            let (bytes, w) = with_segments(&m, name, segs);
            g.err(
                name,
                comment,
                &m,
                k,
                &bytes,
                class,
                At::Segment(w[at].offset, Some(at as u32)),
            );
        };
        let mut s = Seg::new(TAG);
        s.link = Some([0; 32]);
        err(
            g,
            &format!("seg-link-first-l{l}"),
            "segment 0 linked to 32 zero bytes instead of the file digest (re-sealed)",
            &[s],
            0,
            "auth-failed",
        );
        let mut s = Seg::new(HOLD);
        s.link = Some(model_file_digest(&m));
        err(
            g,
            &format!("seg-link-l{l}"),
            "segment 1 linked to the file digest instead of segment 0's digest (re-sealed)",
            &[Seg::new(TAG), s],
            1,
            "auth-failed",
        );
        // A segment from another file (another salt, so another H, DK and file digest).
        let other = base(l, &format!("base-moved-{l}"));
        let (_, ow) = with_segments(&other, "seg-moved-source", &[Seg::new(TAG)]);
        let mut bytes = m.bytes();
        let at = bytes.len() as u64;
        bytes.extend_from_slice(&ow[0].bytes);
        g.err(
            &format!("seg-moved-l{l}"),
            "segment 0 of another file (for the same key) appended as it is",
            &m,
            k,
            &bytes,
            "auth-failed",
            At::Segment(at, Some(0)),
        );
        let mut s = Seg::new(TAG);
        s.keys_of = Some(other.hdr.clone());
        s.h = Some(other.hdr.h());
        err(
            g,
            &format!("seg-moved-relinked-l{l}"),
            "a segment sealed for another file but linked to this file's digest",
            &[s],
            0,
            "auth-failed",
        );
        {
            let name = format!("seg-moved-swapped-l{l}");
            let (_, w) = with_segments(&m, &name, &[Seg::new(TAG), Seg::new(HOLD), Seg::new(TAG)]);
            let mut bytes = m.bytes();
            for i in [0, 2, 1] {
                bytes.extend_from_slice(&w[i].bytes);
            }
            g.err(
                &name,
                "three segments with the second and the third swapped",
                &m,
                k,
                &bytes,
                "auth-failed",
                At::Segment(w[1].offset, Some(1)),
            );
        }
        if l != 1 {
            let mut forged_hdr = m.hdr.clone();
            forged_hdr.dk = super::dk_from_salt(&WRONG_KEY);
            let mut s = Seg::new(HOLD);
            s.keys_of = Some(forged_hdr);
            err(
                g,
                &format!("seg-forged-l{l}"),
                "segment 1 appended by someone without the data key (sealed under another data key)",
                &[Seg::new(TAG), s],
                1,
                "auth-failed",
            );
        }
        let mut s = Seg::new(TAG);
        s.number = Some(1);
        err(
            g,
            &format!("seg-number-l{l}"),
            "segment 0 numbered 1 (re-sealed)",
            &[s],
            0,
            "auth-failed",
        );
        let mut s = Seg::new(TAG);
        s.number = Some(3);
        err(
            g,
            &format!("seg-number-skip-l{l}"),
            "the third segment numbered 3 instead of 2 (re-sealed)",
            &[Seg::new(TAG), Seg::new(HOLD), s],
            2,
            "auth-failed",
        );
        {
            // Cut off, but not consistent with the expected header: not a torn append.
            let name = format!("seg-number-torn-l{l}");
            let mut s = Seg::new(HOLD);
            s.number = Some(5);
            let (bytes, w) = with_segments(&m, &name, &[Seg::new(TAG), s]);
            let cut = &bytes[..w[1].offset as usize + 100];
            g.err(
                &name,
                "segment 1 numbered 5 and cut inside its body: not an incomplete segment (its header is not the expected one)",
                &m,
                k,
                cut,
                "auth-failed",
                At::Segment(w[1].offset, Some(1)),
            );
        }
        let mut s = Seg::new(TAG);
        s.flags = 2;
        err(
            g,
            &format!("seg-flags-l{l}"),
            "segment 0 with flag bit 1 set (undefined; re-sealed)",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        s.flags = 0x8000_0000;
        err(
            g,
            &format!("seg-flags-high-l{l}"),
            "segment 1 with flag bit 31 set (undefined; re-sealed)",
            &[Seg::new(TAG), s],
            1,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        s.reserved = 1;
        err(
            g,
            &format!("seg-flags-reserved-l{l}"),
            "segment 0 with reserved bytes 00000001 (re-sealed)",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        let mut body = pad(TAG.as_bytes());
        body.resize(300, 0);
        s.body = Some(body);
        err(
            g,
            &format!("seg-bucket-l{l}"),
            "segment 0 with a body of 300 bytes, not a bucket (re-sealed)",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        let mut body = pad(TAG.as_bytes());
        body.resize(1024, 0);
        s.body = Some(body);
        err(
            g,
            &format!("seg-bucket-larger-l{l}"),
            "a short record padded to 1024 bytes instead of the smallest bucket, 256 (re-sealed)",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        let mut body = pad(TAG.as_bytes());
        body[255] = 1;
        s.body = Some(body);
        err(
            g,
            &format!("seg-padding-l{l}"),
            "segment 0's padding ends in 01 instead of 00 (re-sealed)",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        let mut body = pad(TAG.as_bytes());
        body[..4].copy_from_slice(&253u32.to_be_bytes());
        s.body = Some(body);
        err(
            g,
            &format!("seg-padding-length-l{l}"),
            "segment 0's JSON length field 253, past its 256-byte body (re-sealed)",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(TAG);
        s.trailer_delta = 1;
        err(
            g,
            &format!("seg-trailer-length-l{l}"),
            "segment 0's trailer states one byte more than the segment's length",
            &[s],
            0,
            "malformed",
        );
        let mut s = Seg::new(HOLD).signed();
        s.tail = Some(*b"SANN-EN\0");
        err(
            g,
            &format!("seg-trailer-magic-l{l}"),
            "segment 1 (signed) with the tail magic's last byte 00 instead of D",
            &[Seg::new(TAG), s],
            1,
            "malformed",
        );
        let bad_result = r#"{"earned_milli":3000,"possible_milli":3000,"percent_bp":10000,"pass":true,"critical_failed":[]}"#;
        err(
            g,
            &format!("seg-result-l{l}"),
            "a questionnaire whose stored result (3000 of 3000) differs from the recomputed one (2500 of 3000; re-sealed)",
            &[Seg::new(&questionnaire(bad_result))],
            0,
            "malformed",
        );
        let bad_pass = r#"{"earned_milli":2500,"possible_milli":3000,"percent_bp":8333,"pass":false,"critical_failed":[]}"#;
        err(
            g,
            &format!("seg-result-pass-l{l}"),
            "segment 1: a questionnaire whose stored result says fail where the recomputed one passes (re-sealed)",
            &[Seg::new(TAG), Seg::new(&questionnaire(bad_pass))],
            1,
            "malformed",
        );
        for (what, json, comment) in [
            (
                "op",
                r#"{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[{"op":"star","tag":"escalated"}]}"#,
                "a record with an unknown op",
            ),
            (
                "member",
                r#"{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[{"op":"tag","tag":"escalated"}],"colour":"red"}"#,
                "a record with an unknown member",
            ),
            (
                "no-ops",
                r#"{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[]}"#,
                "a record with no op",
            ),
            (
                "json",
                r#"{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[{"op":"tag","tag":"escalated"}]"#,
                "a record that is not JSON (the closing brace missing)",
            ),
        ] {
            err(
                g,
                &format!("seg-record-{what}-l{l}"),
                &format!("segment 0: {comment} (re-sealed)"),
                &[Seg::new(json)],
                0,
                "malformed",
            );
        }
        for (what, len) in [("", 2u32 << 20), ("-max", u32::MAX)] {
            let mut s = Seg::new(TAG);
            s.body_len = Some(len);
            err(
                g,
                &format!("seg-limit{what}-l{l}"),
                &format!("segment 0's header states a body length of {len:#x}, above 1 MiB"),
                &[s],
                0,
                "limit-exceeded",
            );
        }
        {
            // The signature stripped by someone without the data key: flag cleared,
            // block removed, trailer fixed, but not re-sealed (at level 1 anyone could
            // re-tag it; at levels 2 and 3 only a holder of the data key).
            let name = format!("seg-signature-stripped-l{l}");
            let (_, w) = with_segments(&m, &name, &[Seg::new(TAG), Seg::new(HOLD).signed()]);
            let mut seg = w[1].bytes.clone();
            seg[16..20].copy_from_slice(&0u32.to_be_bytes());
            let n = seg.len();
            seg.drain(n - 16 - 96..n - 16);
            let total = seg.len() as u64;
            let n = seg.len();
            seg[n - 16..n - 8].copy_from_slice(&total.to_be_bytes());
            let mut bytes = m.bytes();
            bytes.extend_from_slice(&w[0].bytes);
            bytes.extend_from_slice(&seg);
            g.err(
                &name,
                "segment 1's signature stripped (flag bit 0 cleared, block removed, trailer fixed) without re-sealing: the tag covers the flag",
                &m,
                k,
                &bytes,
                "auth-failed",
                At::Segment(w[1].offset, Some(1)),
            );
        }
        let deep = format!(
            r#"{{"by":"qa@example.com","at":"2026-01-02T03:04:05Z","ops":[{{"op":"tag","tag":"escalated"}}],"note":{}{}}}"#,
            "[".repeat(32),
            "]".repeat(32)
        );
        err(
            g,
            &format!("seg-limit-depth-l{l}"),
            "segment 0's record nested 33 deep, past the default limit of 32 (checked before the record model; re-sealed)",
            &[Seg::new(&deep)],
            0,
            "limit-exceeded",
        );
        // Not a segment after a complete one.
        let name = format!("trailing-garbage-after-segment-l{l}");
        let (mut bytes, _) = with_segments(&m, &name, &[Seg::new(TAG)]);
        let at = bytes.len() as u64;
        bytes.extend_from_slice(&[b'G'; 100]);
        g.err(
            &name,
            "100 bytes of garbage after a complete segment",
            &m,
            k,
            &bytes,
            "trailing-data",
            At::Segment(at, None),
        );
    }
}
