//! The command-line interface, as clap definitions only (so the man page and shell
//! completions are generated from the same source).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit-code and key-handling notes shown under every `--help`.
pub const AFTER_HELP: &str = "\
Exit codes: 0 success; 1 the SASF input failed verification (corrupt, tampered,
truncated, malformed, or the wrong key); 2 the command could not run (bad arguments,
missing or unreadable file, missing key, unsupported or malformed WAV or metadata,
I/O error, an output that exists without -f or is an input). A closed stdout
(`sasf ... | head`) ends sasf quietly with 0.

Keys, identities and signers are read from files only, never from a command-line
value: symmetric keys from --key-file (repeatable; or the path in SASF_KEY_FILE), age
identities from -i/--identity (repeatable; or SASF_IDENTITY_FILE), trusted signers'
public keys from --signer FILE.pub (repeatable). A secret file (key, identity, signing
key) that its group or others can read is refused unless --allow-loose-permissions is
given: chmod 600 it. Make them with `sasf keygen -o KEYFILE`, `sasf keygen --x25519 -o
ID.key` and `sasf keygen --signing -o SIGN.key`; `sasf keys` changes who can open a
file, `sasf sign` signs it.";

/// The help section of the options every command that reads or writes recordings
/// takes (not keygen, man or completions, which refuse them).
pub const GLOBAL: &str = "Global options";

/// The commands the global options mean nothing to.
pub const NO_GLOBALS: [&str; 3] = ["keygen", "man", "completions"];

/// sasf: pack call recordings into SASF (Secure Authenticated Stream Format), verify,
/// inspect, extract and convert them.
#[derive(Debug, Parser)]
#[command(name = "sasf", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Do not show progress bars.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Flush each output file to disk (fsync) before renaming it into place. Off by
    /// default: a SASF file cut short by a power loss never verifies as complete.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub fsync: bool,
    /// Threads that seal and verify chunks (default: every core).
    #[arg(short = 'j', long, global = true, value_name = "N", help_heading = GLOBAL)]
    pub threads: Option<usize>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The filters of `sasf search`.
#[derive(Debug, Args, Clone)]
pub struct SearchArgs {
    /// A participant's name, phone number or SIP address.
    #[arg(long, value_name = "NAME|ADDRESS")]
    pub participant: Option<String>,
    /// A participant's role (agent, customer, supervisor, ivr, system, other); with
    /// --participant, that participant's role.
    #[arg(long, value_parser = ["agent", "customer", "supervisor", "ivr", "system", "other"])]
    pub role: Option<String>,
    /// An event type (hold, dtmf, transfer, …); repeatable: all of them.
    #[arg(long, value_name = "TYPE", action = clap::ArgAction::Append)]
    pub event: Vec<String>,
    /// A tag; repeatable: all of them.
    #[arg(long, action = clap::ArgAction::Append)]
    pub tag: Vec<String>,
    /// An attribute KEY=VALUE; repeatable: all of them.
    #[arg(long, value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    pub attr: Vec<String>,
    /// Started at or after this UTC time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Started before this UTC time (RFC 3339, or a date YYYY-MM-DD).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// At least this long (a TIME: 90s, 00:01:30, …).
    #[arg(long, value_name = "TIME")]
    pub min_duration: Option<String>,
    /// A questionnaire scored below N percent.
    #[arg(long, value_name = "N")]
    pub score_below: Option<f64>,
    /// Under an active legal hold.
    #[arg(long)]
    pub legal_hold: bool,
    /// With this verdict: ok, recovered, failed, truncated, unreadable, no-key.
    #[arg(long, value_name = "VERDICT")]
    pub status: Option<String>,
    /// At most N recordings.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Print JSON (schema sasf.search/1).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The options of `sasf serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (loopback by default).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The users who may log in (TOML); without it there is no login.
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// A questionnaire form (JSON, as `sasf annotate --questionnaire` takes);
    /// repeatable.
    #[arg(long, value_name = "FORM.json", action = clap::ArgAction::Append)]
    pub form: Vec<PathBuf>,
    /// The annotator's name without --users (default: $USER).
    #[arg(long, value_name = "WHO")]
    pub by: Option<String>,
    /// Sign every annotation segment with this Ed25519 signing key file.
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// The address people use, when it is not the one listened on: the
    /// TLS-terminating proxy in front (`https://recordings.example.com`). Needed to
    /// listen on anything but loopback; its host is then the only one accepted.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Check the archive's audit log and exit (1 if the chain is broken).
    #[arg(long)]
    pub verify_audit: bool,
    /// With --verify-audit: a head printed by an earlier check, kept elsewhere; the
    /// check fails unless some line of the log has it (so lines cut off the end are
    /// found).
    #[arg(long, value_name = "HEX", requires = "verify_audit")]
    pub expect_head: Option<String>,
    /// Read a password from stdin and print its Argon2id hash for a users file.
    #[arg(long, conflicts_with_all = ["verify_audit", "users"])]
    pub hash_password: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Where the keys come from, and what a file must be to be accepted.
#[derive(Debug, Args, Clone)]
pub struct KeyArgs {
    /// Key file (64 hex digits); repeatable: every one is tried. Defaults to the path
    /// in SASF_KEY_FILE.
    #[arg(long, value_name = "KEYFILE", env = "SASF_KEY_FILE", action = clap::ArgAction::Append)]
    pub key_file: Vec<PathBuf>,
    /// age identity file (AGE-SECRET-KEY-1… lines); repeatable. Defaults to the path
    /// in SASF_IDENTITY_FILE.
    #[arg(short = 'i', long, value_name = "IDENTITY", env = "SASF_IDENTITY_FILE", action = clap::ArgAction::Append)]
    pub identity: Vec<PathBuf>,
    /// A trusted signer's public key file (sasf-sign:…); repeatable. The file must
    /// then be signed by one of them.
    #[arg(long, value_name = "FILE.pub", action = clap::ArgAction::Append)]
    pub signer: Vec<PathBuf>,
    /// Accept secret files (keys, identities, signing keys) that group or others can
    /// read.
    #[arg(long)]
    pub allow_loose_permissions: bool,
    /// What a file must be to be accepted: `any` (keyless files too), `authenticated`
    /// by the key, `encrypted` under it, or `signed` by a --signer (and
    /// authenticated). Default: authenticated when a key is given, any without one.
    /// The file's own header never decides this.
    #[arg(long, value_name = "LEVEL", value_enum)]
    pub require: Option<RequireArg>,
    /// Refuse a file not bound to this recording id (see `pack --bind-context`).
    #[arg(long, value_name = "ID")]
    pub expect_id: Option<String>,
    /// With --expect-id: the tenant the file must be bound to.
    #[arg(long, value_name = "TENANT", requires = "expect_id")]
    pub expect_tenant: Option<String>,
}

/// Public-key recipients given on the command line or in files.
#[derive(Debug, Args, Clone, Default)]
pub struct RecipientArgs {
    /// An age recipient (age1…) who may open the file; repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT", action = clap::ArgAction::Append)]
    pub recipient: Vec<String>,
    /// A file of age recipients, one a line (# comments); repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE", action = clap::ArgAction::Append)]
    pub recipients_file: Vec<PathBuf>,
}

/// The values of `--require`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RequireArg {
    /// Every integrity level; a keyless file is checked for corruption only.
    Any,
    /// HMAC-SHA256 or AES-256-GCM under the given key.
    Authenticated,
    /// AES-256-GCM under the given key.
    Encrypted,
    /// Authenticated, and signed by one of the --signer keys.
    Signed,
}

impl From<RequireArg> for sasf_core::Require {
    fn from(r: RequireArg) -> sasf_core::Require {
        match r {
            RequireArg::Any => sasf_core::Require::Any,
            RequireArg::Authenticated => sasf_core::Require::Authenticated,
            RequireArg::Encrypted => sasf_core::Require::Encrypted,
            RequireArg::Signed => sasf_core::Require::Signed,
        }
    }
}

/// A time range on the recording (HH:MM:SS[.mmm], MM:SS or seconds).
#[derive(Debug, Args, Clone, Default)]
pub struct RangeArgs {
    /// Start of the range (default: the start). A TIME is HH:MM:SS[.fff], MM:SS[.fff],
    /// seconds (90.5, +90.5) or seconds with a unit (90s, 1500ms, 250us). It must lie
    /// inside the recording.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the range (default: the end). Past the end of the recording, the range
    /// ends at the end (and sasf says so).
    #[arg(long, value_name = "TIME", conflicts_with = "duration")]
    pub to: Option<String>,
    /// Length of the range from --from (as ffmpeg's -t), a TIME; clamped to the end
    /// like --to.
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
}

/// Which channels `convert` writes (at most one of these).
#[derive(Debug, Clone, Default, Args)]
#[group(multiple = false)]
pub struct SpeakerArgs {
    /// Write only the channels carrying this participant.
    #[arg(long, value_name = "ID")]
    pub participant: Option<String>,
    /// Write one WAV per participant with channels: OUT.ID.wav.
    #[arg(long)]
    pub split: bool,
    /// Write these channels, in this order (numbered from 0), e.g. 1,0.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub channels: Option<Vec<u16>>,
    /// Two roles: the first one's channel left, the second one's right.
    #[arg(long, value_name = "LEFT,RIGHT", value_delimiter = ',')]
    pub stereo: Option<Vec<String>>,
    /// Mix every channel down to one (their mean, in floating point).
    #[arg(long)]
    pub mono: bool,
}

impl SpeakerArgs {
    /// Whether any per-speaker layout was asked for.
    pub fn is_set(&self) -> bool {
        self.participant.is_some()
            || self.split
            || self.channels.is_some()
            || self.stereo.is_some()
            || self.mono
    }
}

impl RangeArgs {
    /// Whether a range was asked for.
    pub fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some() || self.duration.is_some()
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a new key file (mode 0600; never overwrites): a random 256-bit key, an age
    /// identity (--x25519) or an Ed25519 signing key (--signing).
    #[command(after_help = "\
Prints the new key's public handle on stdout: `key id HEX` for a key, the recipient
`age1…` for an identity, `signer id HEX` for a signing key (whose public key is written
next to it, the .key replaced by .pub, mode 0644).

Examples:
  sasf keygen -o archive.key
  sasf keygen --x25519 -o auditor.id
  sasf keygen --signing -o recorder.key")]
    Keygen {
        /// The key file to create.
        #[arg(short, long, value_name = "KEYFILE")]
        output: PathBuf,
        /// Make an age X25519 identity file instead; prints its recipient.
        #[arg(long, conflicts_with = "signing")]
        x25519: bool,
        /// Make an Ed25519 signing key (and its public key file) instead.
        #[arg(long)]
        signing: bool,
    },

    /// Pack a WAV recording (and its metadata) into a SASF file.
    #[command(after_help = "\
Without a key the file gets keyless integrity (SHA-256); with a key, HMAC-SHA256;
with --encrypt, AES-256-GCM. Samples are stored bit for bit in their original
encoding. INPUT and OUTPUT may be - for stdin/stdout.

Every --key-file and every -r/-R recipient may open the file. With public recipients
only (-r age1…, no --key-file) the writer itself cannot open what it wrote. With
--signing-key the finished file is signed before it is put into place.

Examples:
  sasf pack call.wav -o call.sasf --meta call.json
  sasf pack call.wav -o call.sasf --meta call.json --key-file archive.key --encrypt
  sasf pack call.wav -o call.sasf --encrypt -r age1... --signing-key recorder.key
  cat call.wav | sasf pack - -o - --key-file archive.key --encrypt > call.sasf")]
    Pack {
        /// The WAV file to pack, or - for stdin.
        input: PathBuf,
        /// The SASF file to write, or - for stdout.
        #[arg(short, long, value_name = "OUTPUT")]
        output: PathBuf,
        /// Participant and event metadata (JSON; see the README for the schema).
        #[arg(long, value_name = "META.json")]
        meta: Option<PathBuf>,
        /// Encrypt with AES-256-GCM (needs a key or a recipient).
        #[arg(long)]
        encrypt: bool,
        #[command(flatten)]
        recipients: RecipientArgs,
        /// Bytes per copy of the key area (256 to 32768; default 4096): room for
        /// recipients and signatures added later in place.
        #[arg(long, value_name = "BYTES")]
        key_area: Option<u32>,
        /// Sign the finished file with this Ed25519 signing key (a regular-file output
        /// only).
        #[arg(long, value_name = "SIGN.key")]
        signing_key: Option<PathBuf>,
        /// Seconds of audio per chunk: the most a crash while recording can lose.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
        chunk_seconds: f64,
        /// Retention in days, stored as a public header field (0 = unspecified).
        #[arg(long, value_name = "DAYS", default_value_t = 0)]
        retention_days: u32,
        /// Skip reading the finished file back before renaming it into place.
        #[arg(long, conflicts_with = "verify_all")]
        no_verify: bool,
        /// Read every byte of the finished file back and verify it (as `sasf verify`)
        /// before renaming it into place. By default only its structure is read back:
        /// the end chunk, the index chain, the metadata and the manifest.
        #[arg(long)]
        verify_all: bool,
        /// Bind the file to its recording id (recording.id in --meta) and tenant
        /// (recording.tenant): readers given `--expect-id` refuse any other file.
        #[arg(long)]
        bind_context: bool,
        /// Replace an existing output file (an input is never replaced, even with -f).
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Verify SASF files completely: header, every chunk, totals and end.
    #[command(after_help = "\
Prints one line per file on stdout: OK with duration and integrity level, or FAILED
with the error, its chunk index and byte offset. Then a summary line on stderr,
e.g. \"18 OK, 1 FAILED, 1 unreadable\" (with -s, only when a file is not OK).

Exit 1 if any file failed verification, even when another could not be read; 2 if
none failed but one could not be read (missing, unreadable, no key); 0 if all are OK.

Archives: -r walks directories, --shard or a scheduler's array index picks a share of
the files, --report keeps one record per file (a re-run skips what is recorded), and
`sasf report merge` sums the shards' reports with the same exit rule.

With --signer, a file must also be signed by one of the signers; without any key, an
authenticated or encrypted file is then audited: its stored bytes are checked against
the signature, nothing is decrypted (\"OK, signed by ID (verified without the key:
contents not decrypted)\"). --json adds a signatures array (id, signed_at, valid,
trusted).

Examples:
  sasf verify call.sasf
  sasf verify --key-file archive.key archive/*.sasf
  sasf verify --signer recorder.pub --require signed archive/*.sasf
  sasf verify --json call.sasf
  sasf verify cut.sasf --source call.sasf --key-file archive.key
  sasf verify -r archive/ --report verify.jsonl
  sasf verify -r archive/ --shard 2/8 --report shards/2.jsonl")]
    Verify {
        /// Files to verify (- for stdin); with -r, directories too.
        #[arg(required_unless_present = "files_from")]
        files: Vec<PathBuf>,
        /// Verify every .sasf file under each directory given, on every core (-j).
        /// A symlink loop, an unreadable directory or a dangling .sasf link is
        /// reported for itself and counted unreadable.
        #[arg(short = 'r', long)]
        recursive: bool,
        /// Also verify the paths in LIST, one a line (- for stdin).
        #[arg(long, value_name = "LIST")]
        files_from: Option<PathBuf>,
        /// Append one sasf.verify/1 record per file to this JSON Lines file, each line
        /// written whole. Run again with the same report, a file recorded with a verdict
        /// at the same size and modification time is not verified again (a torn last
        /// line of an interrupted run is removed first).
        #[arg(long, value_name = "OUT.jsonl")]
        report: Option<PathBuf>,
        /// Verify only shard I of N (from 0): a file is in shard
        /// first-8-bytes-of-SHA-256(its path under the directory given) mod N. Without
        /// it, the shard comes from a scheduler's array index: SLURM_ARRAY_TASK_ID
        /// (with SLURM_ARRAY_TASK_COUNT, or MIN/MAX/STEP), JOB_COMPLETION_INDEX or
        /// AWS_BATCH_JOB_ARRAY_INDEX (with --shard-count).
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// The number of shards, for an array index from the environment that does
        /// not say it (Kubernetes, AWS Batch).
        #[arg(long, value_name = "N")]
        shard_count: Option<u64>,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Print only the files that are not OK (and the summary, if any is not).
        #[arg(short = 's', long)]
        silent: bool,
        /// Also print the audio content hash: SHA-256 of every audio frame as stored
        /// (the bytes a WAV data chunk of `convert` holds), the same for two files with
        /// the same audio whatever their level, key, chunking or metadata. Costs one
        /// more SHA-256 pass over the audio.
        #[arg(long)]
        audio_hash: bool,
        /// The file is an excerpt (`sasf cut`): also confirm that its frames are this
        /// source file's frames at the position it names, and that this is the source
        /// it names (one FILE; the keys given are tried on both).
        #[arg(long, value_name = "SOURCE.sasf")]
        source: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Work with the reports of `sasf verify --report`.
    #[command(subcommand)]
    Report(ReportCommand),

    /// Show a file's format, integrity, duration, participants and timeline.
    #[command(after_help = "\
Without a key, an encrypted file shows only its public header fields, and its
recipients and signatures (kinds and ids; `sasf keys list` shows more).

Examples:
  sasf info call.sasf --key-file archive.key
  sasf info --json call.sasf")]
    Info {
        /// The SASF file (- for stdin).
        file: PathBuf,
        /// Print everything as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Bring an archive's catalog up to date: verify and read new and changed files.
    #[command(after_help = "\
An archive is a folder tree of .sasf files; its catalog is one SQLite file in it,
.sasf-catalog.sqlite, that can always be deleted and rebuilt from the files. New and
changed files (by size, modification and status-change times, and inode) are verified on every core (-j)
and their verdict stored; each result is committed as it arrives, so an interrupted run
keeps what it did and the next run goes on. Files that are gone are dropped; a file
that changes while it is read is left for the next run; symbolic links are not
followed; a file is opened without following a link. A damaged catalog, or one of
another schema, is deleted and rebuilt. One `sasf index` runs on an archive at a time
(.sasf-catalog.lock). A verdict holds for the policy it was computed under (--require,
--signer, --expect-id, --expect-tenant): under another one every file is verified again,
as are files that could not be read and, with a key, files that needed one.

With an archive key every row carries a MAC under it: a row changed outside sasf (a
verdict set to ok) is found, reported and verified again, and `search` leaves it out.
A catalog built without a key is advisory (anyone who can write it can change it).

Exits 0 when the catalog is up to date, whatever the verdicts (what failed is in the
catalog: sasf search --status failed); 2 when it could not be brought up to date.

The archive key is the first --key-file (or else the first -i identity file): the
catalog holds the participants, roles, events, tags and attributes of an encrypted
recording only as tokens keyed by it, and its id and participants sealed under it
(docs/CATALOG.md says exactly what the catalog reveals without the key). A catalog
built with one key refuses another.

Examples:
  sasf index archive/ --key-file archive.key
  sasf index archive/ --require any      # keyless recordings too, with a key given")]
    Index {
        /// The archive's top folder.
        archive: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Apply an archive's retention policy: plan, carry out, and the deletion log.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Find the recordings of an archive's catalog that match every filter given.
    #[command(after_help = "\
Prints one line per recording: path, recording id, start (UTC), duration,
participants, verdict; --json prints a sasf.search/1 document. Names are matched case-
insensitively with whitespace collapsed; numbers as E.164 (+15550100199 matches
\"+1 (555) 010-0199\" and \"tel:+1-555-010-0199\"). Searching encrypted recordings by
participant, role, event, tag or attribute needs the archive key the catalog was built
with; without it only their public fields (start, duration, verdict, score, hold) are
searched. Run `sasf index` first.

Examples:
  sasf search archive/ --key-file archive.key --participant \"Gina Customer\" --event dtmf
  sasf search archive/ --tag escalated --since 2026-11-01 --json
  sasf search archive/ --status failed")]
    Search {
        /// The archive's top folder.
        archive: PathBuf,
        #[command(flatten)]
        args: SearchArgs,
    },
    /// Search, play back and annotate an archive's recordings in a web browser.
    #[command(after_help = "\
Indexes the archive (as `sasf index`), then serves a local web application: search
over the catalog, a recording page with the player (audio streamed from the file
through the authenticated index, with HTTP range requests), the waveform, one lane per
participant, the events, the verification status and the annotation history, and
annotation (tags, attributes, questionnaires) under the logged-in user's name.

By default it listens on loopback only. Without --users, whoever can reach it is the
local supervisor (named by --by, or $USER). With --users, people log in; a users file:

  [[user]]
  name = \"sam\"
  role = \"supervisor\"      # agent, supervisor or auditor
  password = \"$argon2id$v=19$...\"   # from `sasf serve --hash-password < pw.txt`
  participant = [\"sip:ann@example.com\"]   # agents: who they are in recordings

An agent sees only the recordings they took part in; a supervisor plays and
annotates; an auditor verifies and reads history but cannot play audio. Every
playback, download, annotation and refusal goes to the archive's hash-chained audit
log (.sasf-audit.jsonl), which `sasf serve ARCHIVE --verify-audit` checks.

Examples:
  sasf serve archive/ --key-file archive.key --form qa-form.json
  sasf serve archive/ --key-file archive.key --users users.toml --listen 127.0.0.1:8080
  sasf serve archive/ --key-file archive.key --verify-audit")]
    Serve {
        /// The archive's top folder.
        #[arg(required_unless_present = "hash_password")]
        archive: Option<PathBuf>,
        #[command(flatten)]
        args: ServeArgs,
    },

    /// Extract participants and events as JSON, and optionally the audio as WAV.
    #[command(after_help = "\
With --from/--to, only that range: its audio, and its events re-based onto its start.

Examples:
  sasf extract call.sasf --meta call.json --key-file archive.key
  sasf extract call.sasf --meta - --audio call.wav
  sasf extract call.sasf --meta cut.json --audio cut.wav --from 00:01:30 --to 00:02:10")]
    Extract {
        /// The SASF file (- for stdin).
        file: PathBuf,
        /// Where to write the metadata JSON (- for stdout).
        #[arg(long, value_name = "OUT.json")]
        meta: PathBuf,
        /// Also write the audio, as `convert` does.
        #[arg(long, value_name = "OUT.wav")]
        audio: Option<PathBuf>,
        /// Replace an existing output file (an input is never replaced, even with -f).
        #[arg(short, long)]
        force: bool,
        /// Decode the audio to 16-bit PCM.
        #[arg(long)]
        pcm16: bool,
        #[command(flatten)]
        range: RangeArgs,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Convert a SASF file to WAV, with the original samples in their original encoding.
    #[command(after_help = "\
mu-law stays mu-law and 24-bit stays 24-bit; --pcm16 decodes to 16-bit PCM instead.
Audio over 4 GiB is written as RF64. Written to stdout (-), the WAV has its size
fields set to 0xFFFFFFFF (read to end of file).

With --from/--to, exactly the samples of that range; a seekable file is read through
its authenticated index (only the chunks needed), a pipe is read to its end.
An OUT named .sasf is an authenticated excerpt instead, as `sasf cut` writes.
An OUT named .flac is FLAC (PCM of 8 to 32 bits as it is; mu-law and A-law decoded to
16-bit; float needs --pcm16; --mono is the 16-bit mix; --split writes OUT.ID.flac), the
timeline as Vorbis comment chapters (CHAPTER001=HH:MM:SS.mmm, CHAPTER001NAME=label).

The WAV carries the timeline: a cue point per event, labelled as `sasf info` names it
(\"hold — Ann Agent (a1)\"), with a length where one applies (hold to resume, mute to
unmute, pause to unpause, snippet and ad hoc start to stop); a BWF bext chunk
(originator sasf, the recording id, the origination date and time of started_at, UTC);
LIST/INFO with the recording id. Cue points and labels follow the data chunk, so a WAV
written to stdout gets bext and INFO but no cue points. Text is UTF-8. --no-markers
writes none of these. --labels writes the timeline beside the WAV too, in the format
its extension names: .txt an Audacity label track, .vtt WebVTT, .ffmeta or .ffmetadata
an ffmpeg FFMETADATA chapter file (`ffmpeg -i OUT.wav -i L.ffmeta -map_metadata 1
-map_chapters 1 OUT.mkv`).

Per-speaker audio (one of): --participant ID writes the channels carrying ID; --split
writes one WAV per participant with channels, OUT's name with .ID before .wav;
--channels 1,0 selects and orders channels; --stereo agent,customer puts the channel of
the first role left and the second right (from the participants and the channel map);
--mono writes the mean of all channels as 32-bit float (16-bit with --pcm16), which
cannot clip, and says so in INFO. A participant without a channel, a role on no
channel or on several, or a channel out of range is refused before anything is
written.

Examples:
  sasf convert call.sasf -o call.wav --key-file archive.key
  sasf convert call.sasf -o - --pcm16 | play -
  sasf convert call.sasf -o cut.wav --from 00:01:30 --to 00:02:10
  sasf convert call.sasf -o call.wav --labels call.txt
  sasf convert call.sasf -o call.wav --split      # call.a1.wav, call.c1.wav
  sasf convert call.sasf -o call.wav --stereo agent,customer")]
    Convert {
        /// The SASF file (- for stdin).
        file: PathBuf,
        /// The WAV file to write (- for stdout), or a .flac or .sasf file.
        #[arg(short, long, value_name = "OUT.wav")]
        output: PathBuf,
        /// Replace an existing output file (an input is never replaced, even with -f).
        #[arg(short, long)]
        force: bool,
        /// Decode to 16-bit PCM.
        #[arg(long)]
        pcm16: bool,
        /// Write no cue points, bext or INFO: only fmt, fact and data.
        #[arg(long)]
        no_markers: bool,
        /// Also write the timeline to FILE: .txt (Audacity labels), .vtt (WebVTT) or
        /// .ffmeta/.ffmetadata (ffmpeg chapters).
        #[arg(long, value_name = "FILE")]
        labels: Option<PathBuf>,
        #[command(flatten)]
        speakers: SpeakerArgs,
        #[command(flatten)]
        range: RangeArgs,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Salvage the authenticated part of a SASF file whose writer died.
    #[command(after_help = "\
Keeps every chunk up to the first one that is incomplete or fails authentication (never
past it), re-seals them into a new file with a new salt, adds a `sasf.recovered` event
saying where the original stopped, and marks the file as recovered. The original is
left untouched; `sasf verify` still reports it as truncated. A re-sealed recovery does
not carry annotation segments (`sasf annotate`) over: they are sealed to the original
file.

When the only damage is a torn last annotation segment (an append cut short: the
recording and every complete segment verify), OUT is instead the original's exact byte
prefix up to the end of the last complete segment, signatures and segments kept
(\"trimmed an incomplete annotation segment at byte N (K bytes)\"); --in-place trims
FILE itself, under the lock `sasf annotate` takes.

Examples:
  sasf recover broken.sasf -o fixed.sasf --key-file archive.key
  sasf recover call.sasf --in-place --key-file archive.key")]
    Recover {
        /// The damaged SASF file (- for stdin).
        file: PathBuf,
        /// The recovered SASF file to write (- for stdout).
        #[arg(
            short,
            long,
            value_name = "FIXED.sasf",
            required_unless_present = "in_place",
            conflicts_with = "in_place"
        )]
        output: Option<PathBuf>,
        /// Trim a torn last annotation segment off FILE itself (FILE's only damage must
        /// be that segment).
        #[arg(long)]
        in_place: bool,
        /// Salvage the authenticated prefix of a file that fails authentication (a
        /// changed or corrupt chunk), not only of one cut short.
        #[arg(long)]
        allow_auth_failure: bool,
        /// Replace an existing output file (an input is never replaced, even with -f).
        #[arg(short, long)]
        force: bool,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Merge an ad hoc WAV recording into the snippet that started while it ran.
    #[command(after_help = "\
The result is one snippet from the ad hoc start to the snippet's end: the ad hoc audio
up to the snippet's start, then the snippet's audio (where they overlap, the snippet's
audio wins). The snippet's participants and events move onto the new timeline, and the
merge is recorded as events: adhoc_start at 0, snippet_start and a `sasf.merge` custom
event where the snippet begins. It has the snippet's integrity level and key, a new
salt, and starts (INFO started_at) at the ad hoc start. The inputs are not changed.

The ad hoc start is --adhoc-start, or else the WAV's BWF bext origination date and time,
taken as UTC. The snippet's start is its INFO started_at. A WAV that ends up to one
second before the snippet starts (bext times have one-second resolution) is taken to
have run until it. Exit 2 for a different sample format, rate or channel count, an ad
hoc recording that starts after the snippet or ends before it, or a snippet without a
start time.

Examples:
  sasf merge --adhoc adhoc.wav --snippet snip.sasf -o merged.sasf --key-file archive.key
  sasf merge --adhoc adhoc.wav --snippet snip.sasf -o merged.sasf --adhoc-start 2026-11-23T10:14:50Z")]
    Merge(MergeArgs),

    /// Replay a call's recording actions over its audio, as the recording system would.
    #[command(after_help = "\
ACTIONS.json is a list of {\"at_ms\", \"action\", \"by\"} in time order; action is adhoc_start
(Record), adhoc_stop, snippet_start (Snip), snippet_stop or disconnect (which may have a
\"reason\"). The rules: a snippet takes precedence; an ad hoc recording running when a
snippet starts merges into it (the snippet then runs from the ad hoc start, and Record
or Snip stops it); no ad hoc recording can start while a snippet runs. The end of the
audio ends the call.

OUTDIR (created if missing, and must be empty) receives adhoc-N.wav for each ad hoc
recording that was not merged, snippet-N.sasf for each snippet, and report.json; a
summary, with every refused action and why, is printed. --meta gives the call's
recording information, participants (declared in every snippet) and events (kept in
the snippets that span them). Refused actions are part of the replay: exit 0.

Examples:
  sasf session actions.json --audio call.wav -o out/
  sasf session actions.json --audio call.wav -o out/ --meta call.json --key-file archive.key --encrypt")]
    Session(SessionArgs),

    /// List or change who can open a file: its recipients, rewritten in place.
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Verify a file completely, then add a signature to it in place.
    #[command(after_help = "\
The signature covers the header and every chunk (not the key area, so recipients may
change later). Prints `signed by ID`. Check it with `sasf verify --signer SIGN.pub`,
with or without the key.

Example:
  sasf sign call.sasf --signing-key recorder.key --key-file archive.key")]
    Sign {
        /// The SASF file to sign (a regular file).
        file: PathBuf,
        /// The Ed25519 signing key (sasf keygen --signing).
        #[arg(long, value_name = "SIGN.key")]
        signing_key: PathBuf,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Append an annotation (tags, attributes, labels, a scored questionnaire,
    /// retention, a legal hold) to a file, in place.
    #[command(after_help = "\
Builds one annotation record from the options and appends it as a segment after the
file's end, in place, under an exclusive lock: the recording's bytes, its file digest
and its signatures do not change. The record's operations are always in this order:
--tag, --untag, --attr, --unattr, --label, --unlabel, --questionnaire, --retention-days
or --retain-until, --legal-hold or --release-hold (each option in the order given).

Refused, with nothing written (exit 2): an --untag, --unattr or --unlabel of something
absent, a --release-hold of a case not on hold, answers that do not fit their form
(the message names the JSON path, e.g. answers.empathy.value), and a file ending with a
torn append (`sasf recover` trims it). The file must be opened by the key or identity
given (none for a keyless file). At the keyless level a segment is authenticated only
by a signature: give --signing-key.

Prints `annotated FILE: segment N (B bytes appended), chain head HEX`, and for a
questionnaire `questionnaire ID vVERSION: SCORE% (pass|fail[, critical failed: IDS])`.

Examples:
  sasf annotate call.sasf --by qa@example.com --tag escalated --attr queue=billing
  sasf annotate call.sasf --by qa@example.com --questionnaire form.json --answers answers.json
  sasf annotate call.sasf --by legal@example.com --legal-hold CASE-7 --signing-key legal.key")]
    Annotate(Box<AnnotateArgs>),

    /// Show a file's annotation history: every segment, who, when, what, and its
    /// signature.
    #[command(after_help = "\
One entry per segment: its number, byte offset, by, at, the operations, the signature
(`signed by SIGNER-ID (valid)`, `INVALID signature`, `unsigned`) and whether it is
authenticated (at the keyless level, only a validly signed segment is). A torn last
segment is reported on a final line and is not an error (exit 0).

--json prints one document: {\"schema\":\"sasf.history/1\",\"file\",\"level\",\"integrity\",
\"segments\":[{\"number\",\"offset\",\"len\",\"by\",\"at\",\"ops\",\"note\",\"digest\",
\"signature\":{\"signer\",\"valid\"}|null,\"authenticated\"}],\"incomplete_segment_at\",
\"chain_head\"}.

Examples:
  sasf history call.sasf --key-file archive.key
  sasf history --json call.sasf")]
    History {
        /// The SASF file (- for stdin).
        file: PathBuf,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
        /// An annotator's signing public key file (.pub) to trust; repeatable. A
        /// segment of a keyless file is authenticated only when validly signed by one
        /// of them (anyone can append a keyless segment and sign it with a key of their
        /// own). `--signer` keeps its meaning: the file itself must be signed.
        #[arg(long, value_name = "FILE")]
        annotator: Vec<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },

    /// Redact a range after the fact: a new file with the range silenced, beeped or cut
    /// out, recording who did it and why.
    #[command(after_help = "\
Writes OUT, a new SASF file: the audio of --from..--to replaced by the encoding's
silence (--mode silence, the default), by a 1 kHz tone of the same length (beep), or
removed (omit: everything after it moves earlier). DTMF events inside the range lose
their digits; with omit the events inside it are dropped and listed (redacted) in the
record. A `sasf.redaction` event at the range start records the range, mode, reason,
who, and the source's id, file digest and manifest. The original samples of the range
are not in OUT. FILE is not changed.

OUT has FILE's integrity level, with a new data key: it is wrapped for every --key-file
that opens FILE, every -i identity that opens it, and every -r/-R recipient. A
recipient of FILE whose identity is not given cannot be carried over (sasf says so);
`sasf keys add` adds more later. With --signing-key, OUT is signed before it is put
into place. Exit 2, with nothing written, for a range outside the recording or empty.

Examples:
  sasf redact call.sasf -o redacted.sasf --from 1:02 --to 1:20 --reason \"card number\" --by qa@example.com --key-file archive.key
  sasf redact call.sasf -o short.sasf --from 1:02 --to 1:20 --mode omit --reason PCI --by qa --signing-key qa.key")]
    Redact(Box<RedactArgs>),

    /// Cut an authenticated excerpt: the exact frames of a range, its events, and a
    /// record naming the source.
    #[command(after_help = "\
Writes OUT, a SASF file holding exactly the frames of the range, the events and
annotations inside it re-based onto its start, the state at the start (who had joined,
who was on hold or muted, a secure pause in progress: the holds, mutes and pause also
as events at 0), started_at moved, and a `sasf.excerpt` record naming FILE's id, file
digest and manifest and the range's frames in it. `convert FILE -o OUT.sasf --from
--to` does the same. OUT is sealed like FILE (see `sasf redact --help`).

`sasf verify OUT --source FILE` confirms that OUT's frames are FILE's frames at that
position and that FILE is the file OUT names (exit 1 if not).

Examples:
  sasf cut call.sasf -o cut.sasf --from 00:01:30 --to 00:03:30 --key-file archive.key
  sasf verify cut.sasf --source call.sasf --key-file archive.key")]
    Cut(Box<CutArgs>),

    /// Print shell completions for SHELL to stdout.
    #[command(after_help = "Example:\n  sasf completions bash > /etc/bash_completion.d/sasf")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },

    /// Write the man pages (sasf.1 and one per command) into a directory.
    #[command(after_help = "Example:\n  sasf man -o /usr/local/share/man/man1")]
    Man {
        /// The directory to write into.
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
}

/// Arguments of `sasf annotate`.
#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The SASF file to annotate (a regular file).
    pub file: PathBuf,
    /// Who annotates (an id, e.g. an e-mail address).
    #[arg(long, value_name = "WHO")]
    pub by: String,
    /// When, as UTC RFC 3339 (YYYY-MM-DDTHH:MM:SS[.F]Z); default: now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Add a tag; repeatable.
    #[arg(long, value_name = "TAG", action = clap::ArgAction::Append)]
    pub tag: Vec<String>,
    /// Remove a tag (it must be present); repeatable.
    #[arg(long, value_name = "TAG", action = clap::ArgAction::Append)]
    pub untag: Vec<String>,
    /// Set an attribute, KEY=VALUE; repeatable.
    #[arg(long, value_name = "KEY=VALUE", action = clap::ArgAction::Append)]
    pub attr: Vec<String>,
    /// Remove an attribute (it must be set); repeatable.
    #[arg(long, value_name = "KEY", action = clap::ArgAction::Append)]
    pub unattr: Vec<String>,
    /// Add an access label; repeatable.
    #[arg(long, value_name = "LABEL", action = clap::ArgAction::Append)]
    pub label: Vec<String>,
    /// Remove an access label (it must be present); repeatable.
    #[arg(long, value_name = "LABEL", action = clap::ArgAction::Append)]
    pub unlabel: Vec<String>,
    /// A questionnaire form (JSON); needs --answers. The score is computed by sasf.
    #[arg(long, value_name = "FORM.json", requires = "answers")]
    pub questionnaire: Option<PathBuf>,
    /// The answers to the --questionnaire form (JSON).
    #[arg(long, value_name = "ANSWERS.json", requires = "questionnaire")]
    pub answers: Option<PathBuf>,
    /// Keep the recording this many days from its start (1 to 36500).
    #[arg(long, value_name = "N", conflicts_with = "retain_until")]
    pub retention_days: Option<u32>,
    /// Keep the recording through this UTC day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub retain_until: Option<String>,
    /// Put the recording under legal hold for a case.
    #[arg(long, value_name = "CASE", conflicts_with = "release_hold")]
    pub legal_hold: Option<String>,
    /// Release the legal hold of a case (it must be on hold).
    #[arg(long, value_name = "CASE")]
    pub release_hold: Option<String>,
    /// A free-text note (at most 4096 bytes).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Sign the segment with this Ed25519 signing key (sasf keygen --signing).
    #[arg(long, value_name = "SIGN.key")]
    pub signing_key: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The values of `redact --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RedactMode {
    /// The encoding's silence.
    Silence,
    /// A 1 kHz tone at -12 dBFS, of the same length.
    Beep,
    /// Remove the range; what follows moves earlier.
    Omit,
}

/// Arguments of `sasf redact`.
#[derive(Debug, Args)]
pub struct RedactArgs {
    /// The SASF file to redact (a regular file; it is not changed).
    pub file: PathBuf,
    /// The redacted SASF file to write.
    #[arg(short, long, value_name = "OUT.sasf")]
    pub output: PathBuf,
    /// Start of the range (a TIME, as for convert).
    #[arg(long, value_name = "TIME")]
    pub from: String,
    /// End of the range (a TIME; inside the recording).
    #[arg(long, value_name = "TIME")]
    pub to: String,
    /// What replaces the range.
    #[arg(long, value_enum, default_value_t = RedactMode::Silence)]
    pub mode: RedactMode,
    /// Why (recorded in the file).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Who redacts (recorded in the file).
    #[arg(long, value_name = "WHO")]
    pub by: String,
    /// Sign the redacted file with this Ed25519 signing key.
    #[arg(long, value_name = "SIGN.key")]
    pub signing_key: Option<PathBuf>,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Replace an existing output file (an input is never replaced, even with -f).
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `sasf cut`.
#[derive(Debug, Args)]
pub struct CutArgs {
    /// The SASF file to cut from (a regular file).
    pub file: PathBuf,
    /// The excerpt to write.
    #[arg(short, long, value_name = "CUT.sasf")]
    pub output: PathBuf,
    #[command(flatten)]
    pub range: RangeArgs,
    /// Sign the excerpt with this Ed25519 signing key.
    #[arg(long, value_name = "SIGN.key")]
    pub signing_key: Option<PathBuf>,
    #[command(flatten)]
    pub recipients: RecipientArgs,
    /// Replace an existing output file (an input is never replaced, even with -f).
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `sasf merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The ad hoc recording (WAV).
    #[arg(long, value_name = "ADHOC.wav")]
    pub adhoc: PathBuf,
    /// The snippet (SASF) that started while the ad hoc recording ran.
    #[arg(long, value_name = "SNIPPET.sasf")]
    pub snippet: PathBuf,
    /// The merged SASF file to write (- for stdout).
    #[arg(short, long, value_name = "OUT.sasf")]
    pub output: PathBuf,
    /// Replace an existing output file (an input is never replaced, even with -f).
    #[arg(short, long)]
    pub force: bool,
    /// When the ad hoc recording started (RFC 3339); default: the WAV's bext
    /// origination date and time, taken as UTC.
    #[arg(long, value_name = "RFC3339")]
    pub adhoc_start: Option<String>,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// Arguments of `sasf session`.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// The user actions: a JSON list of {"at_ms", "action", "by"}.
    #[arg(value_name = "ACTIONS.json")]
    pub actions: PathBuf,
    /// The call audio (WAV, - for stdin).
    #[arg(long, value_name = "CALL.wav")]
    pub audio: PathBuf,
    /// The directory to write the recordings and report.json into.
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: PathBuf,
    /// The call's recording information, participants and events (JSON, as for pack).
    #[arg(long, value_name = "META.json")]
    pub meta: Option<PathBuf>,
    /// Encrypt the snippets with AES-256-GCM (needs a key).
    #[arg(long)]
    pub encrypt: bool,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// What the new recipients of `keys add` and `keys rotate` are.
#[derive(Debug, Args, Clone)]
pub struct NewRecipients {
    #[command(flatten)]
    pub public: RecipientArgs,
    /// A key file whose key becomes a recipient (a symmetric slot); repeatable.
    #[arg(long, value_name = "KEYFILE", action = clap::ArgAction::Append)]
    pub add_key_file: Vec<PathBuf>,
}

/// `sasf keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Show the key area: capacity, copies, recipients and signatures (no key needed).
    #[command(after_help = "Example:\n  sasf keys list call.sasf")]
    List {
        /// The SASF file (- for stdin).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add recipients, in place (the file must be opened: --key-file or -i).
    #[command(after_help = "\
Rewrites only the key area (at most 64 KiB, whatever the recording's length), under an
exclusive lock.

Example:
  sasf keys add call.sasf --add-key-file team-b.key --key-file archive.key")]
    Add {
        /// The SASF file (a regular file).
        file: PathBuf,
        #[command(flatten)]
        new: NewRecipients,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Remove recipients, in place (the last one cannot be removed).
    #[command(after_help = "\
Removed recipients cannot open this file any more; a copy they kept still opens.

Example:
  sasf keys remove call.sasf --id 1f2e3d4c --key-file archive.key")]
    Remove {
        /// The SASF file (a regular file).
        file: PathBuf,
        /// The recipient's stanza id (at least 8 hex digits; see `sasf keys list`).
        #[arg(long, value_name = "ID", action = clap::ArgAction::Append)]
        id: Vec<String>,
        /// Remove the slot of this key file's key.
        #[arg(long, value_name = "KEYFILE", action = clap::ArgAction::Append)]
        remove_key_file: Vec<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Replace a recipient by new ones, in one rewrite.
    #[command(after_help = "\
The new recipients are added and the old one removed in one rewrite of the key area:
the file is never left with neither.

Examples:
  sasf keys rotate call.sasf --id 1f2e3d4c --add-key-file new.key --key-file archive.key
  sasf keys rotate call.sasf --remove-key-file old.key --add-key-file new.key --key-file old.key")]
    Rotate {
        /// The SASF file (a regular file).
        file: PathBuf,
        /// The stanza id of the recipient to remove (at least 8 hex digits).
        #[arg(
            long,
            value_name = "OLD",
            required_unless_present = "remove_key_file",
            conflicts_with = "remove_key_file"
        )]
        id: Option<String>,
        /// Or the key file whose slot is removed.
        #[arg(long, value_name = "OLD.key")]
        remove_key_file: Option<PathBuf>,
        #[command(flatten)]
        new: NewRecipients,
        #[command(flatten)]
        key: KeyArgs,
    },
}

/// `sasf report`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Sum the reports of `sasf verify --report` (the shards of one run) into one
    /// summary and exit status.
    #[command(after_help = "\
Reads every line of every report (a malformed or torn line is refused with its
number). A file recorded more than once counts once: its last record (the later
report on the command line, the later line in a report) wins. Prints each file that
is not OK, then the summary (\"198 OK, 1 FAILED, 1 unreadable\").

Exit 1 if any file FAILED, else 2 if any was unreadable (or a report is malformed),
else 0: the rule of `sasf verify`.

Examples:
  sasf report merge shards/*.jsonl
  sasf report merge --json shards/*.jsonl")]
    Merge {
        /// The reports.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// One sasf.report-summary/1 document instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `sasf retention`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Dry run: what the policy does with every recording of the archive today.
    #[command(after_help = "\
Brings the catalog up to date first (as `sasf index`), then prints one line per
recording: what happens to it (delete, move, keep, hold, unverified), its path, the
rule that decided and until when it is kept, and why; then a summary line. Only
recordings verified OK are deleted or moved; a legal hold blocks both, whatever the
rules say; where rules overlap the longest retention wins; the recording's own
retention (`sasf annotate --retain-days/--retain-until`, or its header field) is one
more candidate (docs/RETENTION.md). A policy with an unknown field or an impossible
rule is refused with its line and column before anything is read.

Exits 0; 2 if a catalog row did not authenticate (changed outside sasf; kept).

Examples:
  sasf retention plan archive/ --policy retention.toml --key-file archive.key
  sasf retention plan archive/ --policy retention.toml --json --now 2027-01-01")]
    Plan {
        /// The archive's top folder.
        archive: PathBuf,
        /// The policy file (TOML; docs/RETENTION.md).
        #[arg(long, value_name = "P.toml")]
        policy: PathBuf,
        /// One sasf.retention-plan/1 document instead of text.
        #[arg(long)]
        json: bool,
        /// Plan as of this day (YYYY-MM-DD) or UTC time instead of today.
        #[arg(long, value_name = "WHEN")]
        now: Option<String>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Carry out the plan of today: delete and move recordings, logging each action.
    #[command(after_help = "\
Deleting an encrypted recording first overwrites both copies of its key section
with random bytes (crypto-shredding, synced to disk), then unlinks it; a keyless or
authenticated-only one is unlinked. A move is a rename into the tier folder (created
inside the archive; never across filesystems, never over an existing file). Just
before acting, each file is checked again under its lock: the file the catalog
describes, opening with the keys given, no legal hold now.

Each action is written to the archive's deletion log (.sasf-retention.log, hash-
chained, with its head in .sasf-retention.head): an intent before the file is touched,
the completion after. A crash leaves each file untouched or fully handled (an
encrypted one may be left shredded but not yet unlinked); the next apply finishes what
an intent without a completion left, then goes on.

Exits 0 when every action was carried out, 2 if one was skipped (each is named).

Examples:
  sasf retention apply archive/ --policy retention.toml --key-file archive.key --yes --by dpo")]
    Apply {
        /// The archive's top folder.
        archive: PathBuf,
        /// The policy file (TOML; docs/RETENTION.md).
        #[arg(long, value_name = "P.toml")]
        policy: PathBuf,
        /// Really delete and move.
        #[arg(long)]
        yes: bool,
        /// Who is recorded in the log as having run it (default: the login name).
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Show the deletion log, or check its chain.
    #[command(after_help = "\
Prints each entry (sequence number, time, intent/done/abandoned, action, path, rule,
who, manifest), then whether the chain holds. --verify checks only: every entry's hash
chains to the one before, the sequence has no gap, every completion closes an intent,
and the log reaches the head recorded in .sasf-retention.head (entries cut off the
end are found). Lines are read with a bound of 16 KiB.

Exits 0 when the chain holds, 1 when it is broken (the line is named).

Examples:
  sasf retention log archive/
  sasf retention log archive/ --verify")]
    Log {
        /// The archive's top folder.
        archive: PathBuf,
        /// Check the chain only.
        #[arg(long)]
        verify: bool,
        /// One sasf.retention-log/1 document instead of text.
        #[arg(long)]
        json: bool,
    },
}
