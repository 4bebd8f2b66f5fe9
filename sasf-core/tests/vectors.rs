//! The conformance vectors in `testdata/vectors/` (format: its README.md): the
//! committed files must be exactly what `vectors_gen` generates, and every one must
//! give exactly its expected outcome through the library, releasing exactly the
//! authenticated prefix before an error, whether the input arrives in bulk or one byte
//! per read, and whether one or three threads open the chunks. Random access must give
//! the same verdict (success or error) as streaming on every vector.

mod vectors_gen;

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::PathBuf;

use sasf_core::io::segments::Segments;
use sasf_core::meta::RecordingInfo;
use sasf_core::{
    ChunkType, Context, Decoder, Encoding, Error, ErrorKind, Item, Key, Keyring, Require, Totals,
    VerifyingKey,
};

/// How a vector says to open its file: the key, the requirement and the expected
/// context (its `key`, `require` and `expect-context` lines).
#[derive(Clone)]
struct Opening {
    require: Option<Require>,
    expect: Option<Context>,
    /// The key and the age identity (`identity` line) together.
    ring: Keyring,
    /// The trusted signers (`signer` lines).
    signers: Vec<VerifyingKey>,
}

impl Opening {
    fn decoder<R: Read>(&self, input: R) -> Result<Decoder<R>, Error> {
        let mut d = Decoder::new(input)?.signers(self.signers.clone());
        if let Some(r) = self.require {
            d = d.require(r);
        }
        if let Some(c) = &self.expect {
            d = d.expect_context(c.clone());
        }
        Ok(d)
    }
}
use sha2::{Digest, Sha256};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/vectors")
}

/// The header lines of a vector (repeatable keys keep every value, in order) and its
/// SASF bytes.
fn parse(contents: &[u8]) -> (BTreeMap<String, Vec<String>>, &[u8]) {
    let split = contents
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("a blank line ends the header");
    let text = std::str::from_utf8(&contents[..split]).expect("a text header");
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let (k, v) = line.split_once(": ").expect("key: value");
        fields.entry(k.into()).or_default().push(v.into());
    }
    (fields, &contents[split + 2..])
}

/// What a reader released, and how it stopped.
#[derive(Default)]
struct Observed {
    chunks: u64,
    samples: u64,
    audio: Vec<u8>,
    meta: Vec<u8>,
    info: Option<serde_json::Value>,
    totals: Option<Totals>,
    /// The annotation segments after END, on success.
    segments: Option<Segments>,
    error: Option<Error>,
}

/// The JSON text of a metadata payload (FORMAT.md §9.1: u32 length, JSON, padding).
fn json_of(payload: &[u8]) -> &[u8] {
    let n = u32::from_be_bytes(payload[0..4].try_into().unwrap()) as usize;
    &payload[4..4 + n]
}

/// Reads with the raw-chunk API (payload bytes as stored, after every check), with
/// `threads` threads opening chunks.
fn by_chunks<R: Read + Send>(input: R, how: &Opening, threads: usize) -> Observed {
    let mut o = Observed::default();
    let mut r = match how
        .decoder(input)
        .and_then(|d| d.threads(threads).open_with(&how.ring))
    {
        Ok(r) => r,
        Err(e) => {
            o.error = Some(e);
            return o;
        }
    };
    o.chunks = 1;
    o.info = Some(r.info().to_json());
    let ba = r.header().format.block_align();
    loop {
        match r.next_chunk() {
            Ok(None) => break,
            Ok(Some(c)) => {
                o.chunks += 1;
                let t = c.chunk_type;
                if t == ChunkType::AUDIO {
                    o.samples += (c.payload.len() / ba) as u64;
                    o.audio.extend_from_slice(c.payload);
                } else if [
                    ChunkType::PARTICIPANT,
                    ChunkType::EVENT,
                    ChunkType::ANNOTATION,
                ]
                .contains(&t)
                {
                    o.meta.extend_from_slice(&t.0);
                    o.meta
                        .extend_from_slice(format!(" {} ", c.timestamp).as_bytes());
                    o.meta.extend_from_slice(json_of(c.payload));
                    o.meta.push(b'\n');
                }
            }
            Err(e) => {
                o.error = Some(e);
                break;
            }
        }
    }
    o.totals = r.totals().copied();
    if o.error.is_none() {
        o.segments = r.segments().cloned();
    }
    o
}

/// What the item API released: the audio, the number of metadata items, the
/// annotation segments (on success) and the error, if any.
type ByItems = (Vec<u8>, usize, Option<Segments>, Option<Error>);

/// Reads with the item API.
fn by_items<R: Read>(input: R, how: &Opening) -> ByItems {
    let (mut audio, mut meta) = (Vec::new(), 0);
    let mut r = match how.decoder(input).and_then(|d| d.open_with(&how.ring)) {
        Ok(r) => r,
        Err(e) => return (audio, meta, None, Some(e)),
    };
    loop {
        match r.next_item() {
            Ok(None) => return (audio, meta, r.segments().cloned(), None),
            Ok(Some(Item::Audio { data, .. })) => audio.extend_from_slice(data),
            Ok(Some(Item::Participant { .. } | Item::Event(_) | Item::Annotation(_))) => meta += 1,
            Ok(Some(_)) => {}
            Err(e) => return (audio, meta, None, Some(e)),
        }
    }
}

/// The annotation segments as a success vector states them (README: `segments`,
/// `segments-sha256`, `segment-head`, `incomplete-segment`, `segment-signatures`);
/// a vector without these lines states no segment and no incomplete one.
fn segment_lines(s: &Segments) -> Vec<String> {
    let mut text = Vec::new();
    for x in &s.list {
        text.extend_from_slice(&x.record);
        text.push(b'\n');
    }
    let sigs: Vec<&str> = s
        .list
        .iter()
        .map(|x| match &x.signature {
            None => "none",
            Some(g) if g.valid => "valid",
            Some(_) => "invalid",
        })
        .collect();
    vec![
        format!("segments: {}", s.list.len()),
        format!("segments-sha256: {}", sha_hex(&text)),
        format!("segment-head: {}", hex::encode(s.head)),
        format!(
            "incomplete-segment: {}",
            s.incomplete_at
                .map_or_else(|| "none".to_string(), |o| o.to_string())
        ),
        format!("segment-signatures: {}", sigs.join(",")),
    ]
}

/// What a success vector says of the segments, in the order of [`segment_lines`]
/// (absent lines: no segment, no incomplete one; head and signatures not stated).
fn stated_segments(f: &BTreeMap<String, Vec<String>>, got: &[String]) -> Vec<String> {
    let one = |k: &str| f.get(k).map(|v| v[0].clone());
    let n = one("segments").unwrap_or_else(|| "0".into());
    let text_sha = one("segments-sha256").unwrap_or_else(|| sha_hex(b""));
    vec![
        format!("segments: {n}"),
        format!("segments-sha256: {text_sha}"),
        one("segment-head").map_or_else(|| got[2].clone(), |v| format!("segment-head: {v}")),
        format!(
            "incomplete-segment: {}",
            one("incomplete-segment").unwrap_or_else(|| "none".into())
        ),
        one("segment-signatures").map_or_else(
            || {
                if n == "0" {
                    "segment-signatures: ".to_string()
                } else {
                    got[4].clone()
                }
            },
            |v| format!("segment-signatures: {v}"),
        ),
    ]
}

/// A reader that hands out one byte per call.
struct OneByte<'a>(&'a [u8]);
impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() || self.0.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

/// The chunk index, annotation segment and byte offset an error reports, where it
/// has them.
fn place(e: &Error) -> (Option<u64>, Option<u32>, Option<u64>) {
    match e.kind() {
        ErrorKind::Unsupported { place, .. }
        | ErrorKind::Malformed { place, .. }
        | ErrorKind::AuthFailed { place }
        | ErrorKind::LimitExceeded { place, .. } => {
            (place.chunk, place.segment, Some(place.offset))
        }
        ErrorKind::MalformedHeader { offset, .. }
        | ErrorKind::Truncated { offset, .. }
        | ErrorKind::TrailingData { offset } => (None, None, Some(*offset)),
        _ => (None, None, None),
    }
}

/// Reads through random access: opens the file, switches to random access (END first,
/// then the index chain and the stream's structure) and reads every frame. Returns the
/// audio and the annotation segments, or the error.
fn by_random_access(bytes: &[u8], how: &Opening) -> Result<(Vec<u8>, Segments), Error> {
    let r = how.decoder(Cursor::new(bytes))?.open_with(&how.ring)?;
    let mut ra = r.into_random_access()?;
    let total = ra.totals().samples;
    let mut audio = Vec::new();
    ra.read_range(0, total, |a| {
        audio.extend_from_slice(a);
        Ok(())
    })?;
    Ok((audio, ra.segments().clone()))
}

/// How the vector `f` says to open its file.
fn opening(name: &str, f: &BTreeMap<String, Vec<String>>) -> Opening {
    let one = |k: &str| -> Option<&str> { f.get(k).map(|v| v[0].as_str()) };
    let key = match one("key").expect("key line") {
        "none" => None,
        h => Some(Key::from_bytes(
            hex::decode(h).unwrap().try_into().expect("32 bytes"),
        )),
    };
    let require = one("require").map(|r| {
        Require::from_name(r).unwrap_or_else(|| panic!("{name}: unknown requirement {r}"))
    });
    let expect = one("expect-context").map(|c| {
        let (id, tenant) = match c.split_once('/') {
            Some((id, t)) => (id, Some(t)),
            None => (c, None),
        };
        Context::new(id, tenant).expect("a valid context")
    });
    let mut ring = Keyring::new();
    if let Some(k) = &key {
        ring.add_key(k.clone());
    }
    if let Some(id) = one("identity") {
        ring.add_identity_file(id.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: identity: {e}"));
    }
    let signers = f
        .get("signer")
        .into_iter()
        .flatten()
        .map(|h| {
            VerifyingKey::from_bytes(&hex::decode(h).unwrap().try_into().expect("32 bytes"))
                .unwrap_or_else(|e| panic!("{name}: signer: {e}"))
        })
        .collect();
    Opening {
        require,
        expect,
        ring,
        signers,
    }
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Checks one vector; returns a description of each disagreement.
fn replay(name: &str, contents: &[u8]) -> Vec<String> {
    let (f, bytes) = parse(contents);
    let one = |k: &str| -> Option<&str> { f.get(k).map(|v| v[0].as_str()) };
    let num = |k: &str| -> u64 {
        one(k)
            .unwrap_or_else(|| panic!("{name}: no {k}"))
            .parse()
            .unwrap()
    };
    let how = opening(name, &f);
    let mut bad = Vec::new();
    // An auditor with no key and only the trusted signers (FORMAT.md §5.5).
    if let Some(want) = one("audit") {
        let got = match sasf_core::access::audit(bytes, &how.signers, Default::default(), 2) {
            Ok(_) => "success".to_string(),
            Err(e) => format!("error {}", e.class()),
        };
        if got != want {
            bad.push(format!("{name}: audit: got {got}, want {want}"));
        }
    }

    let mut check = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{name}: {what}: got {got}, want {want}"));
        }
    };
    let o = by_chunks(bytes, &how, 1);
    let expect = one("expect").expect("expect line");
    if expect == "success" {
        if let Some(e) = &o.error {
            return vec![format!("{name}: expected success, got {e:?}")];
        }
        let t = o.totals.expect("totals after success");
        check("chunks", t.chunks.to_string(), num("chunks").to_string());
        check(
            "END chunk count",
            (o.chunks - 1).to_string(),
            num("chunks").to_string(),
        );
        check("samples", o.samples.to_string(), num("samples").to_string());
        check(
            "END samples",
            t.samples.to_string(),
            num("samples").to_string(),
        );
        check(
            "audio bytes",
            o.audio.len().to_string(),
            num("audio-bytes").to_string(),
        );
        check(
            "audio sha",
            sha_hex(&o.audio),
            one("audio-sha256").unwrap().into(),
        );
        check(
            "metadata sha",
            sha_hex(&o.meta),
            one("metadata-sha256").unwrap().into(),
        );
        let lines: String = f
            .get("meta")
            .map(|v| v.iter().map(|l| format!("{l}\n")).collect())
            .unwrap_or_default();
        check("meta lines", String::from_utf8_lossy(&o.meta).into(), lines);
        let rec = if t.recovered() { "yes" } else { "no" };
        check("recovered", rec.into(), one("recovered").unwrap().into());
        let info: serde_json::Value = serde_json::from_str(one("info").unwrap()).unwrap();
        check("info", format!("{:?}", o.info), format!("{:?}", Some(info)));
        let got = segment_lines(o.segments.as_ref().expect("segments after success"));
        check(
            "segments",
            got.join("; "),
            stated_segments(&f, &got).join("; "),
        );
    } else {
        let class = expect.strip_prefix("error ").expect("error <class>");
        let Some(e) = &o.error else {
            return vec![format!("{name}: expected {class}, got success")];
        };
        check(
            "class",
            format!("{} ({e})", e.class()),
            format!("{class} ({e})"),
        );
        let (chunk, segment, offset) = place(e);
        check(
            "chunk",
            format!("{chunk:?}"),
            format!("{:?}", one("chunk").map(|c| c.parse::<u64>().unwrap())),
        );
        check(
            "segment",
            format!("{segment:?}"),
            format!("{:?}", one("segment").map(|c| c.parse::<u32>().unwrap())),
        );
        check(
            "offset",
            format!("{offset:?}"),
            format!("{:?}", one("offset").map(|c| c.parse::<u64>().unwrap())),
        );
        if let ErrorKind::Truncated {
            after_chunk,
            at_sample,
            ..
        } = e.kind()
        {
            let want = match one("after-chunk").expect("after-chunk line") {
                "none" => None,
                n => Some(n.parse::<u64>().unwrap()),
            };
            check(
                "after-chunk",
                format!("{after_chunk:?}"),
                format!("{want:?}"),
            );
            check(
                "at-sample",
                at_sample.to_string(),
                num("released-samples").to_string(),
            );
        }
        check(
            "released chunks",
            o.chunks.to_string(),
            num("released-chunks").to_string(),
        );
        check(
            "released samples",
            o.samples.to_string(),
            num("released-samples").to_string(),
        );
        check(
            "released audio bytes",
            o.audio.len().to_string(),
            num("released-audio-bytes").to_string(),
        );
        check(
            "released audio sha",
            sha_hex(&o.audio),
            one("released-audio-sha256").unwrap().into(),
        );
        check(
            "released metadata sha",
            sha_hex(&o.meta),
            one("released-metadata-sha256").unwrap().into(),
        );
    }
    // Three threads opening chunks: the same chunks released, the same error.
    let p = by_chunks(bytes, &how, 3);
    check(
        "3 threads: outcome",
        format!("{:?}", p.error.as_ref().map(|e| e.to_string())),
        format!("{:?}", o.error.as_ref().map(|e| e.to_string())),
    );
    check(
        "3 threads: released chunks",
        p.chunks.to_string(),
        o.chunks.to_string(),
    );
    check("3 threads: audio", sha_hex(&p.audio), sha_hex(&o.audio));
    check("3 threads: metadata", sha_hex(&p.meta), sha_hex(&o.meta));
    // The item API, fed one byte per read, must stop the same way after releasing the
    // same audio and as many metadata items.
    let (audio, meta, segs, err) = by_items(OneByte(bytes), &how);
    check(
        "item API outcome",
        format!("{:?}", err.as_ref().map(|e| e.to_string())),
        format!("{:?}", o.error.as_ref().map(|e| e.to_string())),
    );
    check("item API audio", sha_hex(&audio), sha_hex(&o.audio));
    check(
        "item API metadata count",
        meta.to_string(),
        o.meta.iter().filter(|&&b| b == b'\n').count().to_string(),
    );
    let seg_lines = |s: &Option<Segments>| s.as_ref().map(|s| segment_lines(s).join("; "));
    check(
        "item API, one byte per read: segments",
        format!("{:?}", seg_lines(&segs)),
        format!("{:?}", seg_lines(&o.segments)),
    );
    check(
        "3 threads: segments",
        format!("{:?}", seg_lines(&p.segments)),
        format!("{:?}", seg_lines(&o.segments)),
    );
    // Random access: the same verdict (success or error) on the same bytes, and on
    // success the same audio.
    let ra = by_random_access(bytes, &how);
    match (&ra, &o.error) {
        (Ok((a, s)), None) => {
            check("random access audio", sha_hex(a), sha_hex(&o.audio));
            check(
                "random access segments",
                segment_lines(s).join("; "),
                seg_lines(&o.segments).unwrap_or_default(),
            );
        }
        (Err(_), Some(_)) => {}
        (Ok(_), Some(e)) => check(
            "random access verdict",
            "success".into(),
            format!("an error, as streaming gives: {} ({e})", e.class()),
        ),
        (Err(e), None) => check(
            "random access verdict",
            format!("{} ({e})", e.class()),
            "success, as streaming gives".into(),
        ),
    }
    bad
}

#[test]
fn committed_vectors_are_current_and_replay_exactly() {
    let generated = vectors_gen::generate();
    assert!(generated.len() >= 80);
    let mut on_disk = BTreeMap::new();
    for entry in std::fs::read_dir(vectors_dir()).expect("testdata/vectors exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "vec") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            on_disk.insert(name, std::fs::read(&path).unwrap());
        }
    }
    let mut stale = Vec::new();
    for v in &generated {
        match on_disk.get(&v.name) {
            None => stale.push(format!("missing: {}", v.name)),
            Some(b) if *b != v.contents => stale.push(format!("differs: {}", v.name)),
            Some(_) => {}
        }
    }
    for name in on_disk.keys() {
        if !generated.iter().any(|v| &v.name == name) {
            stale.push(format!("not generated: {name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "testdata/vectors is out of date; regenerate with \
         `cargo run -p sasf-core --example make_vectors -- testdata/vectors`:\n{}",
        stale.join("\n")
    );

    assert!(
        generated.len() >= 300,
        "{} vectors, fewer than 300",
        generated.len()
    );
    let mut bad = Vec::new();
    for (name, contents) in &on_disk {
        bad.extend(replay(name, contents));
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn counter_carry_past_65536_chunks() {
    // Too large to commit (2.6 MB): 65 540 one-frame chunks, so the chunk index and
    // the GCM nonce pass 2^16. Each chunk is checked against the model built from the
    // primitives, then the file is read back.
    let hdr = vectors_gen::Hdr::new(3, Encoding::U8, 1, 8000, "carry-65537");
    let audio = vectors_gen::noise(65_540, 7);
    let m = vectors_gen::with_writer(&hdr, RecordingInfo::default(), 1, 1024, |w| {
        w.write_audio(&audio).unwrap()
    });
    assert!(m.chunks.len() > 65_537 + 65_537 / 17);
    let bytes = m.bytes();
    let how = Opening {
        require: None,
        expect: None,
        ring: Keyring::from_key(Key::from_bytes(vectors_gen::KEY)),
        signers: Vec::new(),
    };
    let o = by_chunks(&bytes[..], &how, 2);
    assert!(o.error.is_none(), "{:?}", o.error);
    assert_eq!(o.audio, audio);
    assert_eq!(o.totals.unwrap().chunks, m.chunks.len() as u64 - 1);
}

/// The chunk body lengths of a vector's SASF file, in order (after the header and the
/// key section).
fn chunk_lengths(contents: &[u8]) -> Vec<u32> {
    let (_, bytes) = parse(contents);
    let ext = u16::from_be_bytes([bytes[28], bytes[29]]) as usize;
    let keys_at = 128 + ext;
    let s = 2 * u32::from_be_bytes(bytes[keys_at..keys_at + 4].try_into().unwrap()) as usize;
    let tag = if bytes[10] == 3 { 16 } else { 32 };
    let mut at = keys_at + 4 + s;
    let mut v = Vec::new();
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        v.push(len);
        at += 12 + len as usize + tag;
    }
    assert_eq!(at, bytes.len());
    v
}

#[test]
fn timeline_leak_pairs_have_identical_chunk_lengths() {
    // FORMAT.md §8 rule 4 and §18: two recordings whose event differs in time within
    // one audio chunk (and in the number of DTMF digits) show an observer without the
    // key the same sequence of chunk lengths, and the same file size.
    for l in 1..=3 {
        let read = |which: &str| {
            std::fs::read(vectors_dir().join(format!("timeline-leak-{which}-l{l}.vec")))
                .expect("the timeline-leak vectors exist")
        };
        let (a, b) = (read("a"), read("b"));
        assert_ne!(parse(&a).1, parse(&b).1, "level {l}: the two files differ");
        let (la, lb) = (chunk_lengths(&a), chunk_lengths(&b));
        assert!(la.len() > 5);
        assert_eq!(la, lb, "level {l}: chunk lengths differ");
        assert_eq!(parse(&a).1.len(), parse(&b).1.len());
    }
}

#[test]
fn the_crate_appends_and_reads_segments_as_the_model_seals_them() {
    // FORMAT.md §21: the crate's appender (`annotate::append_checked`, whose nonce is
    // random) must write, for the nonce it chose, exactly the bytes the model seals from
    // the specification, and its readers (streaming and random access) must find the
    // model's chain head.
    use vectors_gen::segments::{file_digest, model_segment, HOLD, TAG};
    for l in 1..=3u8 {
        let m = vectors_gen::base(l, &format!("base-{l}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.sasf");
        std::fs::write(&path, m.bytes()).unwrap();
        let ring = if l == 1 {
            Keyring::new()
        } else {
            Keyring::from_key(Key::from_bytes(vectors_gen::KEY))
        };
        let signer = sasf_core::SigningKey::from_seed(vectors_gen::SIGNER_SEED);
        let mut link = file_digest(&m);
        let mut expect = m.bytes();
        for (k, (json, signed)) in [(TAG, false), (HOLD, true)].into_iter().enumerate() {
            let a = sasf_core::annotate::append_checked(
                &path,
                &ring,
                json.as_bytes(),
                signed.then_some(&signer),
                &|_, _| Ok(()),
            )
            .unwrap_or_else(|e| panic!("level {l}: append {k}: {e}"));
            let bytes = std::fs::read(&path).unwrap();
            let at = a.offset as usize;
            let nonce: [u8; 16] = bytes[at + 24..at + 40].try_into().unwrap();
            let (seg, digest) = model_segment(&m, k as u32, link, nonce, json.as_bytes(), signed);
            expect.extend_from_slice(&seg);
            assert_eq!(
                bytes, expect,
                "level {l}: segment {k} differs from the model"
            );
            assert_eq!(a.head, digest, "level {l}: head after segment {k}");
            link = digest;
        }
        let how = Opening {
            require: None,
            expect: None,
            ring,
            signers: Vec::new(),
        };
        let o = by_chunks(&expect[..], &how, 1);
        let s = o.segments.expect("segments");
        assert_eq!((s.list.len(), s.head), (2, link), "level {l}: streaming");
        let (_, s) = by_random_access(&expect, &how).unwrap();
        assert_eq!(
            (s.list.len(), s.head),
            (2, link),
            "level {l}: random access"
        );
    }
}
