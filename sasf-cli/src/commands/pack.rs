//! `sasf pack`: WAV (+ metadata JSON) to SASF.

use std::path::Path;

use anyhow::{bail, Context, Result};
use sasf_core::bridge::pack_wav;
use sasf_core::meta::Metadata;
use sasf_core::{Decoder, Integrity};

use crate::cli::{KeyArgs, RecipientArgs};
use crate::io::{
    is_dash, load_keys, load_recipients, note, now_ms, read_signing_key, shown, threads, Progress,
};

/// Who may open a packed file besides its key files, and who signs it.
pub struct Access {
    /// The public recipients (-r, -R).
    pub recipients: RecipientArgs,
    /// Bytes per copy of the key area.
    pub key_area: Option<u32>,
    /// The signing key file.
    pub signing_key: Option<std::path::PathBuf>,
}
use crate::output::{self, Kind, Opts, Output};

#[allow(clippy::too_many_arguments)]
pub fn run(
    input: &Path,
    output: &Path,
    meta: Option<&Path>,
    encrypt: bool,
    chunk_seconds: f64,
    retention_days: u32,
    no_verify: bool,
    verify_all: bool,
    bind_context: bool,
    force: bool,
    key_args: &KeyArgs,
    access: &Access,
    quiet: bool,
) -> Result<()> {
    let inputs: Vec<&Path> = std::iter::once(input).chain(meta).collect();
    output::check(output, Kind::Sasf, &inputs, force)?;
    let keys = load_keys(key_args)?;
    let key = keys.first().cloned();
    let public = load_recipients(&access.recipients)?;
    if encrypt && key.is_none() && public.is_empty() {
        bail!("--encrypt needs a key or a recipient: give --key-file KEYFILE (or set SASF_KEY_FILE), -r RECIPIENT or -R FILE");
    }
    let signing_key = match &access.signing_key {
        None => None,
        Some(_) if is_dash(output) => {
            bail!(
                "--signing-key needs a file output, not -: sign the file afterwards with sasf sign"
            )
        }
        Some(p) => Some(read_signing_key(p, key_args.allow_loose_permissions)?),
    };
    if !(chunk_seconds.is_finite() && chunk_seconds > 0.0) {
        bail!("--chunk-seconds must be a positive number");
    }
    let mut wav = crate::io::open_wav(input)?;
    let mut info = wav.info().clone();
    if !is_dash(input) {
        // Tags written after the audio (as many editors do) are read from the file
        // itself; from a pipe only what comes before the data is seen.
        let f =
            std::fs::File::open(input).with_context(|| format!("cannot open {}", shown(input)))?;
        sasf_core::wav::tags_after_data(std::io::BufReader::new(f), wav.data_offset(), &mut info)
            .with_context(|| shown(input))?;
    }
    let format = info.format;
    let total_frames = info.data_len.map(|l| l / format.block_align() as u64);
    let mut metadata = match meta {
        None => Metadata::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            Metadata::from_json_str(&text, &format, total_frames)
                .with_context(|| p.display().to_string())?
        }
    };
    wav_tags_into(&mut metadata, &info, &shown(input));
    let context = if bind_context {
        let id = metadata.recording.id.clone().ok_or_else(|| {
            anyhow::anyhow!("--bind-context needs a recording id (recording.id in --meta)")
        })?;
        let tenant = metadata
            .recording
            .extra
            .get("tenant")
            .and_then(|t| t.as_str())
            .map(str::to_string);
        Some(sasf_core::Context::new(id, tenant.as_deref())?)
    } else {
        None
    };
    let chunk_frames = ((chunk_seconds * format.sample_rate as f64).round() as u64).max(1);
    let progress = Progress::new(info.data_len, "packing", quiet);
    // The output is SASF, encrypted or not; its source was a plain WAV anyway.
    // From a live input (stdin, a pipe) each chunk is flushed as soon as its audio has
    // arrived, to a file or a stream; a regular file needs no per-chunk flush (and is
    // sealed on every core), whatever the output.
    let live_input = is_dash(input)
        || std::fs::metadata(input)
            .map(|m| !m.is_file())
            .unwrap_or(true);
    // From a live input, a file is written under its partial name `<output>.part`,
    // visible from the start, and renamed when complete: after a crash or a failed
    // input that is what `sasf recover` salvages. From a regular file nothing is lost
    // by a failure, and nothing is left behind.
    let out = Output::create(
        output,
        Opts {
            force,
            private: false,
            partial: live_input,
        },
    )?;
    let result = pack_wav(
        &mut wav,
        |b| {
            let mut b = b
                .chunk_frames(chunk_frames)
                .retention_days(retention_days)
                .threads(threads())
                .flush_each_chunk(live_input);
            if let Some(c) = context.clone() {
                b = b.bind_context(c);
            }
            if let Some(q) = access.key_area {
                b = b.key_area_capacity(q);
            }
            b = match (&key, encrypt) {
                (None, _) if public.is_empty() => b,
                (None, false) => b.integrity(Integrity::Hmac),
                (None, true) => b.integrity(Integrity::Encrypted),
                (Some(k), false) => b.authenticated(k.clone()),
                (Some(k), true) => b.encrypted(k.clone()),
            };
            for k in keys.keys.iter().skip(1) {
                b = b.recipient(k.clone());
            }
            for r in &public {
                b = b.public_recipient(r.clone());
            }
            b
        },
        &metadata,
        out,
        &mut |n| progress.set(n),
    );
    progress.finish();
    let mut out = result.with_context(|| {
        if is_dash(output) {
            format!(
                "{} (the output written to stdout is incomplete)",
                shown(input)
            )
        } else {
            shown(input)
        }
    })?;
    if let Output::File(f) = &mut out {
        if !no_verify && key.is_none() && !public.is_empty() {
            // The writer holds no key that opens what it wrote: only the header and
            // the key area can be read back.
            let file = f.reopen()?;
            Decoder::new(std::io::BufReader::new(file))
                .and_then(|d| d.into_key_area().map(drop))
                .map_err(|e| {
                    anyhow::anyhow!("internal error: the packed file does not read back: {e}")
                })?;
        } else if !no_verify {
            // The read-back comes from the page cache, so it catches the writer's own
            // mistakes, not the disk's: by default it checks the structure (end chunk,
            // index chain, metadata, the manifest over the index's digests), which
            // costs a few reads; --verify-all re-reads and re-hashes every chunk.
            let file = f.reopen()?;
            let d = Decoder::new(std::io::BufReader::with_capacity(256 * 1024, file));
            let r = if verify_all {
                d.and_then(|d| d.threads(threads()).open_with(&keys.ring))
                    .and_then(|mut r| r.verify_to_end().map(drop))
            } else {
                d.and_then(|d| d.open_with(&keys.ring))
                    .and_then(|r| r.into_random_access().map(drop))
            };
            r.map_err(|e| anyhow::anyhow!("internal error: the packed file does not verify: {e}"))?;
        }
    }
    if let (Some(sk), Output::File(f)) = (&signing_key, &mut out) {
        // Signed before it is put into place: the file appears signed or not at all.
        let path = f.edit_path()?;
        // A writer for public recipients only cannot open what it wrote: it signs
        // the bytes it has just written and read back structurally.
        let rep = if key.is_none() && !public.is_empty() {
            sasf_core::access::sign_unopened(&path, sk, now_ms())
        } else {
            sasf_core::access::sign(&path, &keys.ring, None, sk, now_ms())
        }
        .map_err(|e| anyhow::anyhow!("cannot sign the packed file: {e}"))?;
        note(format_args!(
            "sasf: {}: signed by {}",
            shown(output),
            rep.signer_id
        ));
    }
    out.commit()?;
    Ok(())
}

/// What a WAV says about itself, kept in the recording information instead of lost:
/// a BWF `bext` origination time becomes `started_at` when the metadata gives none
/// (read as UTC: BWF times carry no zone; said on stderr), and the bext text fields
/// and `LIST`/`INFO` tags go under `recording.wav` (`{"bext": {...}, "info": {...}}`)
/// unless the metadata already has a `wav` member.
fn wav_tags_into(m: &mut Metadata, info: &sasf_core::wav::WavInfo, name: &str) {
    if m.recording.started_at.is_none() {
        if let Some(t) = sasf_core::merge::bext_start(info) {
            if let Ok(s) = sasf_core::meta::Timestamp::from_utc(t) {
                note(format_args!(
                    "sasf: {name}: started_at {s} from the WAV's bext origination time (read as UTC)"
                ));
                m.recording.started_at = Some(s);
            }
        }
    }
    if m.recording.extra.contains_key("wav") {
        return;
    }
    let mut wav = serde_json::Map::new();
    if !info.bext_text.is_empty() {
        let bext: serde_json::Map<String, serde_json::Value> = info
            .bext_text
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone().into()))
            .collect();
        wav.insert("bext".into(), bext.into());
    }
    if !info.info_tags.is_empty() {
        let mut tags = serde_json::Map::new();
        for (k, v) in &info.info_tags {
            tags.entry(k.clone()).or_insert_with(|| v.clone().into());
        }
        wav.insert("info".into(), tags.into());
    }
    if !wav.is_empty() {
        m.recording.extra.insert("wav".into(), wav.into());
    }
}
