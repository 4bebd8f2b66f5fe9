//! Recording precedence: the state machine a recorder drives with a call's audio and
//! the users' recording controls, producing the files the recording system keeps.
//!
//! Two controls record a call. **Record** makes an *ad hoc* recording, a plain WAV.
//! **Snip** makes a *snippet* recording, SASF with participants and events. The rules:
//!
//! - If both are attempted on one call, the snippet takes precedence.
//! - If an ad hoc recording is running when a snippet starts, the ad hoc recording
//!   merges into the snippet: the snippet holds everything from the start of the ad hoc
//!   recording until it stops or the call disconnects, and either stop control (Record
//!   or Snip) stops it. No WAV is kept for a merged ad hoc recording.
//! - While a snippet is running, whoever started it, no ad hoc recording can start
//!   (and no second snippet).
//!
//! A [`Session`] enforces exactly these rules. It is fed the call's audio with
//! [`Session::write_audio`] (in the call's encoding, as [`Writer::write_audio`] takes
//! it) and the actions with [`Session::apply`] (or the named methods); an action takes
//! effect at the current position, the number of frames fed so far. A refused action
//! returns [`SessionError::Refused`] with a [`Refused`] saying why, and changes nothing.
//!
//! Files are produced through [`Sinks`], which the caller implements: a `Write` for
//! each WAV and SASF, committed or discarded by the session. Everything streams:
//! nothing is buffered beyond a partial frame and the writers' one chunk.
//!
//! **How a merge streams.** While an ad hoc recording runs, the session writes it twice:
//! to its WAV, and to a *standby* SASF that begins with an `adhoc_start` event. If a
//! snippet starts, the WAV is discarded and the standby simply continues as the
//! snippet (a `snippet_start` event marks the moment), so a merge costs nothing at the
//! moment it happens and nothing is ever read back. If the ad hoc recording stops
//! unmerged, the WAV is committed and the standby discarded.
//!
//! # Example
//! ```
//! use sasf_core::session::{Action, Refused, SessionBuilder, SessionError, Sinks};
//! use sasf_core::wav::WavWriter;
//! use sasf_core::{AudioFormat, Encoding};
//!
//! #[derive(Default)]
//! struct Memory { wavs: Vec<Vec<u8>>, snippets: Vec<Vec<u8>> }
//! impl Sinks for Memory {
//!     type Wav = Vec<u8>;
//!     type Sasf = Vec<u8>;
//!     fn create_wav(&mut self, _n: u32, f: AudioFormat) -> sasf_core::Result<WavWriter<Vec<u8>>> {
//!         WavWriter::new_streaming(Vec::new(), f)
//!     }
//!     fn commit_wav(&mut self, _n: u32, w: WavWriter<Vec<u8>>) -> sasf_core::Result<()> {
//!         self.wavs.push(w.finish()?);
//!         Ok(())
//!     }
//!     fn create_sasf(&mut self, _n: u32) -> sasf_core::Result<Vec<u8>> { Ok(Vec::new()) }
//!     fn commit_sasf(&mut self, _n: u32, out: Vec<u8>) -> sasf_core::Result<()> {
//!         self.snippets.push(out);
//!         Ok(())
//!     }
//! }
//!
//! let format = AudioFormat::new(Encoding::MuLaw, 1, 8000)?;
//! let mut s = SessionBuilder::new(format).start(Memory::default())?;
//! s.write_audio(&[0xFF; 800])?;                 // 0.1 s, not recorded
//! s.apply(Action::AdhocStart, "agent")?;        // Record
//! s.write_audio(&[0xFF; 800])?;
//! s.apply(Action::SnippetStart, "supervisor")?; // Snip: the ad hoc recording merges
//! assert!(matches!(s.apply(Action::AdhocStart, "agent"),
//!                  Err(SessionError::Refused(Refused::SnippetRunning { .. }))));
//! s.write_audio(&[0xFF; 800])?;
//! s.apply(Action::AdhocStop, "agent")?;         // either control stops it
//! let (files, outputs) = s.finish()?;
//! assert!(files.wavs.is_empty());
//! assert_eq!(files.snippets.len(), 1);
//! assert_eq!(outputs[0].frames(), 1600);        // from the ad hoc start
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::io::{Read, Write};

use serde_json::{Map, Value};

use crate::audio::AudioFormat;
use crate::bridge::{shift_info, IO_BUFFER};
use crate::error::{Error, Result};
use crate::io::writer::{Writer, WriterBuilder};
use crate::meta::{self, Event, EventKind, Participant, RecordingInfo};
use crate::wav::{WavReader, WavWriter};

/// A recording control a user (or the phone system) operated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Record pressed: start an ad hoc recording.
    AdhocStart,
    /// Record released: stop the ad hoc recording (or the snippet it merged into).
    AdhocStop,
    /// Snip pressed: start a snippet recording.
    SnippetStart,
    /// Snip released: stop the snippet recording.
    SnippetStop,
    /// The call ended: every recording stops.
    Disconnect,
}

impl Action {
    /// Every action, in the order of the JSON names below.
    pub const ALL: [Action; 5] = [
        Action::AdhocStart,
        Action::AdhocStop,
        Action::SnippetStart,
        Action::SnippetStop,
        Action::Disconnect,
    ];

    /// The JSON name: `adhoc_start`, `adhoc_stop`, `snippet_start`, `snippet_stop`,
    /// `disconnect` (also the name of the event it leaves in a snippet).
    pub fn name(self) -> &'static str {
        match self {
            Action::AdhocStart => "adhoc_start",
            Action::AdhocStop => "adhoc_stop",
            Action::SnippetStart => "snippet_start",
            Action::SnippetStop => "snippet_stop",
            Action::Disconnect => "disconnect",
        }
    }

    /// The action for a JSON name.
    pub fn from_name(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an action was refused. A refused action changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A snippet recording is running: no ad hoc recording can start, whoever started
    /// the snippet, and no second snippet.
    SnippetRunning {
        /// The running snippet's number.
        snippet: u32,
    },
    /// `adhoc_start` while an ad hoc recording is already running.
    AdhocRunning {
        /// The running ad hoc recording's number.
        adhoc: u32,
    },
    /// A stop control while nothing is recording.
    NotRecording,
    /// `snippet_stop` while only an ad hoc recording runs (Record stops it).
    NoSnippet {
        /// The running ad hoc recording's number.
        adhoc: u32,
    },
    /// `adhoc_stop` while a snippet runs that no ad hoc recording merged into (Snip
    /// stops it; Record stops a snippet only when an ad hoc recording merged into it).
    NoAdhoc {
        /// The running snippet's number.
        snippet: u32,
    },
    /// The call has disconnected.
    CallEnded,
}

impl Refused {
    /// A short stable name: `snippet-running`, `adhoc-running`, `not-recording`,
    /// `no-snippet`, `no-adhoc`, `call-ended`.
    pub fn code(&self) -> &'static str {
        match self {
            Refused::SnippetRunning { .. } => "snippet-running",
            Refused::AdhocRunning { .. } => "adhoc-running",
            Refused::NotRecording => "not-recording",
            Refused::NoSnippet { .. } => "no-snippet",
            Refused::NoAdhoc { .. } => "no-adhoc",
            Refused::CallEnded => "call-ended",
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::SnippetRunning { snippet } => write!(
                f,
                "snippet {snippet} is recording, and while a snippet records no ad hoc \
                 recording or other snippet can start"
            ),
            Refused::AdhocRunning { adhoc } => {
                write!(f, "ad hoc recording {adhoc} is already running")
            }
            Refused::NotRecording => write!(f, "nothing is recording"),
            Refused::NoSnippet { adhoc } => write!(
                f,
                "no snippet is recording (ad hoc recording {adhoc} is stopped with Record)"
            ),
            Refused::NoAdhoc { snippet } => write!(
                f,
                "no ad hoc recording is running (snippet {snippet} is stopped with Snip)"
            ),
            Refused::CallEnded => write!(f, "the call has disconnected"),
        }
    }
}

impl std::error::Error for Refused {}

/// What can go wrong driving a [`Session`].
#[derive(Debug)]
pub enum SessionError {
    /// The action is not allowed now; the session is unchanged and usable.
    Refused(Refused),
    /// Writing failed (or the session was misused); the session cannot be used again.
    Failed(Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Refused(r) => write!(f, "refused: {r}"),
            SessionError::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Refused(r) => Some(r),
            SessionError::Failed(e) => e.source(),
        }
    }
}

impl From<Error> for SessionError {
    fn from(e: Error) -> SessionError {
        SessionError::Failed(e)
    }
}

impl From<SessionError> for Error {
    /// A refusal becomes [`crate::ErrorKind::Misuse`] (where the crate's `Result` is needed).
    fn from(e: SessionError) -> Error {
        match e {
            SessionError::Refused(r) => Error::misuse(format!("action refused: {r}")),
            SessionError::Failed(e) => e,
        }
    }
}

/// Where a session's files go. The session numbers ad hoc recordings 1, 2, … in the
/// order they start, and snippets 1, 2, … in the order they start.
///
/// Every output created is later either committed or discarded, exactly once. A
/// snippet number is also given to the standby SASF of each ad hoc recording (the
/// snippet it becomes if one starts); a discarded standby's number is used again.
/// A merged ad hoc recording's WAV is discarded, so its number has no WAV.
pub trait Sinks {
    /// Where an ad hoc WAV is written.
    type Wav: Write;
    /// Where a snippet SASF is written.
    type Sasf: Write;

    /// Starts the WAV of ad hoc recording `adhoc` (choose a streaming or a seekable
    /// [`WavWriter`]).
    fn create_wav(&mut self, adhoc: u32, format: AudioFormat) -> Result<WavWriter<Self::Wav>>;
    /// The WAV is complete: finish it (`finish` or `finish_seekable`) and keep it.
    fn commit_wav(&mut self, adhoc: u32, wav: WavWriter<Self::Wav>) -> Result<()>;
    /// The ad hoc recording merged into a snippet: the WAV is not kept. By default it
    /// is dropped.
    fn discard_wav(&mut self, adhoc: u32, wav: WavWriter<Self::Wav>) -> Result<()> {
        let _ = (adhoc, wav);
        Ok(())
    }
    /// Starts the SASF of snippet `snippet` (or the standby of an ad hoc recording).
    fn create_sasf(&mut self, snippet: u32) -> Result<Self::Sasf>;
    /// The snippet is complete (its end chunk written): keep it.
    fn commit_sasf(&mut self, snippet: u32, out: Self::Sasf) -> Result<()>;
    /// A standby whose ad hoc recording stopped unmerged: not kept. By default it is
    /// dropped.
    fn discard_sasf(&mut self, snippet: u32, out: Self::Sasf) -> Result<()> {
        let _ = (snippet, out);
        Ok(())
    }
}

/// The kind of a file a session wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// An ad hoc recording: WAV.
    Adhoc,
    /// A snippet recording: SASF.
    Snippet,
}

/// How a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// The control: `AdhocStop`, `SnippetStop` or `Disconnect`.
    pub action: Action,
    /// Who operated it.
    pub by: String,
    /// For a disconnect, its reason.
    pub reason: Option<String>,
}

/// The ad hoc recording a snippet absorbed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedAdhoc {
    /// Its number (no WAV is kept for it).
    pub adhoc: u32,
    /// Call position at which the snippet started (Snip was pressed).
    pub snippet_at: u64,
    /// Who started the snippet.
    pub snippet_by: String,
}

/// A file a session committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// WAV or SASF.
    pub kind: OutputKind,
    /// Its number among its kind.
    pub number: u32,
    /// Call position (frames from the start of the call audio) of its first frame.
    pub from: u64,
    /// Call position just after its last frame.
    pub to: u64,
    /// Who started it (for a merged snippet: who started the ad hoc recording).
    pub started_by: String,
    /// For a snippet an ad hoc recording merged into.
    pub merged: Option<MergedAdhoc>,
    /// How it ended.
    pub ended: Ending,
}

impl Finished {
    /// Its length in frames.
    pub fn frames(&self) -> u64 {
        self.to - self.from
    }
}

/// What an accepted action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// An ad hoc recording started.
    AdhocStarted {
        /// Its number.
        adhoc: u32,
    },
    /// A snippet started with nothing else running.
    SnippetStarted {
        /// Its number.
        snippet: u32,
    },
    /// A snippet started while an ad hoc recording ran: the ad hoc recording merged
    /// into it, and the snippet's file begins at call position `from`.
    Merged {
        /// The ad hoc recording's number.
        adhoc: u32,
        /// The snippet's number.
        snippet: u32,
        /// Call position where the snippet's file begins (the ad hoc start).
        from: u64,
    },
    /// A stop control ended a recording, which was committed.
    Stopped(Finished),
    /// The call ended, and with it the recording that was running, if any.
    Disconnected(Option<Finished>),
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = |x: &Finished| match (x.kind, &x.merged) {
            (OutputKind::Adhoc, _) => format!("ad hoc recording {}", x.number),
            (OutputKind::Snippet, None) => format!("snippet {}", x.number),
            (OutputKind::Snippet, Some(m)) => {
                format!("snippet {} (with ad hoc recording {})", x.number, m.adhoc)
            }
        };
        match self {
            Applied::AdhocStarted { adhoc } => write!(f, "ad hoc recording {adhoc} started"),
            Applied::SnippetStarted { snippet } => write!(f, "snippet {snippet} started"),
            Applied::Merged { adhoc, snippet, .. } => write!(
                f,
                "snippet {snippet} started; ad hoc recording {adhoc} merged into it"
            ),
            Applied::Stopped(x) => write!(f, "{} stopped", what(x)),
            Applied::Disconnected(None) => write!(f, "call ended"),
            Applied::Disconnected(Some(x)) => write!(f, "call ended; {} stopped", what(x)),
        }
    }
}

/// What is recording now, as [`Session::status`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing is recording.
    Idle,
    /// An ad hoc recording runs since call position `since`.
    Adhoc {
        /// Its number.
        adhoc: u32,
        /// Call position of its first frame.
        since: u64,
    },
    /// A snippet runs; its file begins at call position `since`.
    Snippet {
        /// Its number.
        snippet: u32,
        /// Call position of its file's first frame.
        since: u64,
        /// The ad hoc recording that merged into it, if any.
        merged_adhoc: Option<u32>,
    },
    /// The call has disconnected.
    Ended,
}

/// Reason given to the disconnect that [`Session::finish`] applies when the call
/// audio ends without one.
pub const END_OF_AUDIO: &str = "end of call audio";
/// Who [`Session::finish`] says disconnected the call in that case.
pub const SYSTEM: &str = "system";

/// Configures a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    format: AudioFormat,
    writer: WriterBuilder,
    call: RecordingInfo,
    participants: Vec<Participant>,
}

impl SessionBuilder {
    /// A session for call audio of `format`; snippets are keyless (level 1) by default.
    pub fn new(format: AudioFormat) -> SessionBuilder {
        SessionBuilder {
            format,
            writer: WriterBuilder::new(format),
            call: RecordingInfo::default(),
            participants: Vec::new(),
        }
    }

    /// Configures the writer of every snippet: integrity level and key, chunking,
    /// retention. (Its recording information is set per snippet from the call's.)
    pub fn snippets(mut self, configure: impl FnOnce(WriterBuilder) -> WriterBuilder) -> Self {
        self.writer = configure(self.writer);
        self
    }

    /// The call's recording information. Each snippet's INFO copies it, with
    /// `started_at` moved to the snippet's first frame and `id` suffixed
    /// `-snippet-N`.
    pub fn call_info(mut self, info: RecordingInfo) -> Self {
        self.call = info;
        self
    }

    /// The call's participants, declared at the start of every snippet.
    pub fn participants(mut self, participants: Vec<Participant>) -> Self {
        self.participants = participants;
        self
    }

    /// Checks the configuration (by writing a snippet header and its participants to
    /// nowhere) and starts the session with nothing recording.
    pub fn start<S: Sinks>(self, sinks: S) -> Result<Session<S>> {
        let mut probe = self
            .writer
            .clone()
            .info(self.call.clone())
            .wrap_output(std::io::sink())?;
        for p in &self.participants {
            probe.add_participant(p.clone())?;
        }
        probe.finish()?;
        Ok(Session {
            sinks,
            format: self.format,
            ids: self.participants.iter().map(|p| p.id.clone()).collect(),
            writer: self.writer,
            call: self.call,
            participants: self.participants,
            state: State::Idle,
            position: 0,
            carry: Vec::new(),
            adhoc_count: 0,
            snippet_count: 0,
            outputs: Vec::new(),
            dead: false,
        })
    }
}

struct AdhocRun<S: Sinks> {
    number: u32,
    from: u64,
    by: String,
    wav: WavWriter<S::Wav>,
    standby: Writer<S::Sasf>,
    standby_number: u32,
}

struct SnippetRun<S: Sinks> {
    number: u32,
    from: u64,
    by: String,
    merged: Option<MergedAdhoc>,
    writer: Writer<S::Sasf>,
}

enum State<S: Sinks> {
    Idle,
    Adhoc(AdhocRun<S>),
    Snippet(SnippetRun<S>),
    Ended,
}

/// A call's recording session: see the [module documentation](self) for the rules.
/// Made by [`SessionBuilder::start`]; must be completed with [`Session::finish`].
pub struct Session<S: Sinks> {
    sinks: S,
    format: AudioFormat,
    writer: WriterBuilder,
    call: RecordingInfo,
    participants: Vec<Participant>,
    ids: HashSet<String>,
    state: State<S>,
    /// Whole frames of call audio fed so far.
    position: u64,
    /// A partial frame waiting for the rest of its bytes.
    carry: Vec<u8>,
    adhoc_count: u32,
    snippet_count: u32,
    outputs: Vec<Finished>,
    dead: bool,
}

impl<S: Sinks> Session<S> {
    /// Whole frames of call audio fed so far: where the next action takes effect.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The call audio's format.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// What is recording now.
    pub fn status(&self) -> Status {
        match &self.state {
            State::Idle => Status::Idle,
            State::Adhoc(a) => Status::Adhoc {
                adhoc: a.number,
                since: a.from,
            },
            State::Snippet(s) => Status::Snippet {
                snippet: s.number,
                since: s.from,
                merged_adhoc: s.merged.as_ref().map(|m| m.adhoc),
            },
            State::Ended => Status::Ended,
        }
    }

    /// The files committed so far.
    pub fn outputs(&self) -> &[Finished] {
        &self.outputs
    }

    /// The sinks.
    pub fn sinks(&self) -> &S {
        &self.sinks
    }

    fn alive(&self) -> Result<()> {
        if self.dead {
            Err(Error::misuse(
                "the session failed earlier and cannot be used",
            ))
        } else {
            Ok(())
        }
    }

    fn poison<T>(&mut self, r: Result<T>) -> Result<T, SessionError> {
        if r.is_err() {
            self.dead = true;
        }
        r.map_err(SessionError::Failed)
    }

    /// Feeds call audio in the call's encoding (interleaved frames, little-endian).
    /// It goes to whatever is recording; while nothing records, or after the call
    /// ended, it is counted and dropped. A partial frame is held until its rest
    /// arrives, so actions always fall between frames.
    pub fn write_audio(&mut self, mut data: &[u8]) -> Result<(), SessionError> {
        self.alive()?;
        let ba = self.format.block_align();
        if !self.carry.is_empty() {
            let take = (ba - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < ba {
                return Ok(());
            }
            let frame = std::mem::take(&mut self.carry);
            let r = self.record(&frame);
            self.poison(r)?;
        }
        let whole = data.len() / ba * ba;
        let r = self.record(&data[..whole]);
        self.poison(r)?;
        self.carry.extend_from_slice(&data[whole..]);
        Ok(())
    }

    fn record(&mut self, frames: &[u8]) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        match &mut self.state {
            State::Adhoc(a) => {
                a.wav.write_data(frames)?;
                a.standby.write_audio(frames)?;
            }
            State::Snippet(s) => s.writer.write_audio(frames)?,
            State::Idle | State::Ended => {}
        }
        self.position += (frames.len() / self.format.block_align()) as u64;
        Ok(())
    }

    /// Records a call event (hold, DTMF, transfer, …) at the current position in the
    /// running snippet, or in the standby of the running ad hoc recording (so a merge
    /// keeps it). Returns whether anything recorded it; an ad hoc WAV holds no events.
    ///
    /// `event.at_sample` is a call position and must equal [`Session::position`]
    /// (feed the audio up to it first). Participants it names must be among the
    /// call's participants.
    pub fn add_event(&mut self, event: Event) -> Result<bool, SessionError> {
        self.alive()?;
        if event.at_sample != self.position {
            return Err(SessionError::Failed(Error::misuse(format!(
                "an event at call position {} was added at position {}",
                event.at_sample, self.position
            ))));
        }
        // The writer's rules, checked even when nothing records the event.
        let ids = &self.ids;
        meta::rules::check_event(
            &event,
            Some(&|id: &str| ids.contains(id)),
            meta::rules::Origin::User,
            "event",
        )
        .map_err(SessionError::Failed)?;
        let pos = self.position;
        let r = match &mut self.state {
            State::Adhoc(a) => a
                .standby
                .add_event(Event {
                    at_sample: pos - a.from,
                    ..event
                })
                .map(|_| true),
            State::Snippet(s) => s
                .writer
                .add_event(Event {
                    at_sample: pos - s.from,
                    ..event
                })
                .map(|_| true),
            State::Idle | State::Ended => Ok(false),
        };
        self.poison(r)
    }

    /// Applies `action`, operated by `by` (a participant id, a user name, `system`…),
    /// at the current position. A disconnect gets the reason `"disconnected"`; use
    /// [`Session::disconnect`] to give one.
    pub fn apply(&mut self, action: Action, by: &str) -> Result<Applied, SessionError> {
        self.apply_with_reason(action, by, None)
    }

    /// Record pressed.
    pub fn adhoc_start(&mut self, by: &str) -> Result<Applied, SessionError> {
        self.apply(Action::AdhocStart, by)
    }
    /// Record released.
    pub fn adhoc_stop(&mut self, by: &str) -> Result<Applied, SessionError> {
        self.apply(Action::AdhocStop, by)
    }
    /// Snip pressed.
    pub fn snippet_start(&mut self, by: &str) -> Result<Applied, SessionError> {
        self.apply(Action::SnippetStart, by)
    }
    /// Snip released.
    pub fn snippet_stop(&mut self, by: &str) -> Result<Applied, SessionError> {
        self.apply(Action::SnippetStop, by)
    }
    /// The call disconnected, for `reason` (stored in the snippet's `disconnect` event).
    pub fn disconnect(&mut self, by: &str, reason: &str) -> Result<Applied, SessionError> {
        self.apply_with_reason(Action::Disconnect, by, Some(reason))
    }

    /// Like [`Session::apply`]; `reason` is used by a disconnect and ignored otherwise.
    pub fn apply_with_reason(
        &mut self,
        action: Action,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Applied, SessionError> {
        self.alive()?;
        if let Some(r) = self.refusal(action) {
            return Err(SessionError::Refused(r));
        }
        let r = self.transition(action, by, reason.unwrap_or("disconnected"));
        self.poison(r)
    }

    /// The rules: why `action` cannot be applied now, if it cannot.
    fn refusal(&self, action: Action) -> Option<Refused> {
        use Action::*;
        match (&self.state, action) {
            (State::Ended, _) => Some(Refused::CallEnded),
            (State::Idle, AdhocStop | SnippetStop) => Some(Refused::NotRecording),
            (State::Idle, AdhocStart | SnippetStart | Disconnect) => None,
            (State::Adhoc(a), AdhocStart) => Some(Refused::AdhocRunning { adhoc: a.number }),
            (State::Adhoc(a), SnippetStop) => Some(Refused::NoSnippet { adhoc: a.number }),
            (State::Adhoc(_), AdhocStop | SnippetStart | Disconnect) => None,
            (State::Snippet(s), AdhocStart | SnippetStart) => {
                Some(Refused::SnippetRunning { snippet: s.number })
            }
            (State::Snippet(s), AdhocStop) if s.merged.is_none() => {
                Some(Refused::NoAdhoc { snippet: s.number })
            }
            (State::Snippet(_), AdhocStop | SnippetStop | Disconnect) => None,
        }
    }

    /// A session event at file position `at`: `by` is kept as an extra field, and is
    /// also the event's participant when it names one of the call's participants.
    fn control_event(&self, at: u64, kind: EventKind, by: &str) -> Event {
        let mut extra = Map::new();
        extra.insert("by".into(), Value::from(by));
        Event {
            at_sample: at,
            participant: self.ids.contains(by).then(|| by.to_string()),
            kind,
            extra,
        }
    }

    /// Opens snippet `number`'s SASF, beginning at call position `from`, with its
    /// participants and `first` event at 0.
    fn open_snippet(&mut self, number: u32, from: u64, first: Event) -> Result<Writer<S::Sasf>> {
        let mut info = shift_info(&self.call, from, self.format.sample_rate);
        if let Some(id) = &self.call.id {
            info.id = Some(format!("{id}-snippet-{number}"));
        }
        let out = self.sinks.create_sasf(number)?;
        let mut w = self.writer.clone().info(info).wrap_output(out)?;
        for p in &self.participants {
            w.add_participant(p.clone())?;
        }
        w.add_event(first)?;
        Ok(w)
    }

    fn transition(&mut self, action: Action, by: &str, reason: &str) -> Result<Applied> {
        use Action::*;
        let pos = self.position;
        let ending = Ending {
            action,
            by: by.to_string(),
            reason: (action == Disconnect).then(|| reason.to_string()),
        };
        let end_kind = match action {
            Disconnect => EventKind::Disconnect {
                reason: reason.to_string(),
            },
            AdhocStop => EventKind::AdhocStop,
            _ => EventKind::SnippetStop,
        };
        let next = if action == Disconnect {
            State::Ended
        } else {
            State::Idle
        };
        match (std::mem::replace(&mut self.state, State::Idle), action) {
            (State::Idle, AdhocStart) => {
                let number = self.adhoc_count + 1;
                let standby_number = self.snippet_count + 1;
                let wav = self.sinks.create_wav(number, self.format)?;
                let first = self.control_event(0, EventKind::AdhocStart, by);
                let standby = self.open_snippet(standby_number, pos, first)?;
                self.adhoc_count = number;
                self.state = State::Adhoc(AdhocRun {
                    number,
                    from: pos,
                    by: by.to_string(),
                    wav,
                    standby,
                    standby_number,
                });
                Ok(Applied::AdhocStarted { adhoc: number })
            }
            (State::Idle, SnippetStart) => {
                let number = self.snippet_count + 1;
                let first = self.control_event(0, EventKind::SnippetStart, by);
                let writer = self.open_snippet(number, pos, first)?;
                self.snippet_count = number;
                self.state = State::Snippet(SnippetRun {
                    number,
                    from: pos,
                    by: by.to_string(),
                    merged: None,
                    writer,
                });
                Ok(Applied::SnippetStarted { snippet: number })
            }
            (State::Idle, Disconnect) => {
                self.state = State::Ended;
                Ok(Applied::Disconnected(None))
            }
            (State::Adhoc(a), SnippetStart) => {
                self.sinks.discard_wav(a.number, a.wav)?;
                let mut writer = a.standby;
                writer.add_event(self.control_event(pos - a.from, EventKind::SnippetStart, by))?;
                self.snippet_count = a.standby_number;
                self.state = State::Snippet(SnippetRun {
                    number: a.standby_number,
                    from: a.from,
                    by: a.by,
                    merged: Some(MergedAdhoc {
                        adhoc: a.number,
                        snippet_at: pos,
                        snippet_by: by.to_string(),
                    }),
                    writer,
                });
                Ok(Applied::Merged {
                    adhoc: a.number,
                    snippet: a.standby_number,
                    from: a.from,
                })
            }
            (State::Adhoc(a), AdhocStop | Disconnect) => {
                self.sinks.commit_wav(a.number, a.wav)?;
                let standby = a.standby.finish()?;
                self.sinks.discard_sasf(a.standby_number, standby)?;
                let done = Finished {
                    kind: OutputKind::Adhoc,
                    number: a.number,
                    from: a.from,
                    to: pos,
                    started_by: a.by,
                    merged: None,
                    ended: ending,
                };
                self.outputs.push(done.clone());
                self.state = next;
                Ok(if action == Disconnect {
                    Applied::Disconnected(Some(done))
                } else {
                    Applied::Stopped(done)
                })
            }
            (State::Snippet(mut s), AdhocStop | SnippetStop | Disconnect) => {
                s.writer
                    .add_event(self.control_event(pos - s.from, end_kind, by))?;
                let out = s.writer.finish()?;
                self.sinks.commit_sasf(s.number, out)?;
                let done = Finished {
                    kind: OutputKind::Snippet,
                    number: s.number,
                    from: s.from,
                    to: pos,
                    started_by: s.by,
                    merged: s.merged,
                    ended: ending,
                };
                self.outputs.push(done.clone());
                self.state = next;
                Ok(if action == Disconnect {
                    Applied::Disconnected(Some(done))
                } else {
                    Applied::Stopped(done)
                })
            }
            _ => Err(Error::misuse(format!(
                "{action} reached a state the rules refuse it in"
            ))),
        }
    }

    /// Ends the session. If the call has not disconnected, the end of its audio ends
    /// it: a disconnect by [`SYSTEM`] with reason [`END_OF_AUDIO`] stops whatever is
    /// recording. Returns the sinks and every file committed, in the order committed.
    ///
    /// Fails if the audio ended with a partial frame.
    pub fn finish(mut self) -> Result<(S, Vec<Finished>), SessionError> {
        self.alive()?;
        if !self.carry.is_empty() {
            self.dead = true;
            return Err(SessionError::Failed(Error::misuse(
                "the call audio ends with a partial frame",
            )));
        }
        if !matches!(self.state, State::Ended) {
            self.disconnect(SYSTEM, END_OF_AUDIO)?;
        }
        Ok((self.sinks, self.outputs))
    }
}

// ---------- action logs and replay ----------

/// One entry of an action log: which control, when, by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedAction {
    /// Call position (frames from the start of the call audio).
    pub at_sample: u64,
    /// The control.
    pub action: Action,
    /// Who operated it.
    pub by: String,
    /// For a disconnect, its reason.
    pub reason: Option<String>,
}

fn action_err(i: usize, field: &str, reason: impl Into<String>) -> Error {
    let path = if field.is_empty() {
        format!("$[{i}]")
    } else {
        format!("$[{i}].{field}")
    };
    Error::metadata(path, reason)
}

/// Parses an action log: a JSON array of `{"at_ms", "action", "by"}` objects (and
/// `"reason"` for a disconnect), in time order. Times are rounded to the nearest
/// sample at `rate`. Every refusal names its JSON path, e.g. `$[2].action`.
pub fn parse_actions(text: &str, rate: u32) -> Result<Vec<TimedAction>> {
    let v: Value = meta::parse_document(text)?;
    let list = v.as_array().ok_or_else(|| {
        Error::metadata(
            "$",
            "expected an array of {\"at_ms\", \"action\", \"by\"} objects",
        )
    })?;
    let mut out: Vec<TimedAction> = Vec::with_capacity(list.len());
    let mut last_ms = 0u64;
    for (i, entry) in list.iter().enumerate() {
        let o = entry
            .as_object()
            .ok_or_else(|| action_err(i, "", "expected an object"))?;
        if let Some(k) = o
            .keys()
            .find(|k| !["at_ms", "action", "by", "reason"].contains(&k.as_str()))
        {
            return Err(action_err(
                i,
                k,
                "unknown field (an action has at_ms, action, by, and reason for a disconnect)",
            ));
        }
        let ms = match o.get("at_ms") {
            None => return Err(action_err(i, "at_ms", "missing (a time is required)")),
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
                action_err(i, "at_ms", "expected a non-negative integer (milliseconds)")
            })?,
            Some(_) => {
                return Err(action_err(
                    i,
                    "at_ms",
                    "expected a non-negative integer (milliseconds)",
                ))
            }
        };
        if ms < last_ms {
            return Err(action_err(
                i,
                "at_ms",
                format!("{ms} ms is before the previous action ({last_ms} ms); list actions in time order"),
            ));
        }
        last_ms = ms;
        let names = || {
            Action::ALL
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let action = match o.get("action") {
            None => {
                return Err(action_err(
                    i,
                    "action",
                    format!("missing (one of {})", names()),
                ))
            }
            Some(Value::String(s)) => Action::from_name(s).ok_or_else(|| {
                action_err(
                    i,
                    "action",
                    format!("unknown action {s:?} (one of {})", names()),
                )
            })?,
            Some(_) => return Err(action_err(i, "action", "expected a string")),
        };
        let by = match o.get("by") {
            None => return Err(action_err(i, "by", "missing (who operated the control)")),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(action_err(i, "by", "expected a non-empty string")),
        };
        let reason = match o.get("reason") {
            None => None,
            Some(Value::String(s)) if action == Action::Disconnect && !s.is_empty() => {
                Some(s.clone())
            }
            Some(_) if action != Action::Disconnect => {
                return Err(action_err(i, "reason", "only a disconnect has a reason"))
            }
            Some(_) => return Err(action_err(i, "reason", "expected a non-empty string")),
        };
        out.push(TimedAction {
            at_sample: meta::ms_to_sample(ms, rate),
            action,
            by,
            reason,
        });
    }
    Ok(out)
}

/// What became of one logged action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The action as logged.
    pub action: TimedAction,
    /// What it did, or why it was refused.
    pub result: std::result::Result<Applied, Refused>,
}

/// The result of [`replay`].
#[derive(Debug)]
pub struct Replay<S> {
    /// One outcome per logged action, in order.
    pub outcomes: Vec<Outcome>,
    /// Every file committed, in the order committed.
    pub outputs: Vec<Finished>,
    /// The sinks, holding what they were given.
    pub sinks: S,
    /// Frames of call audio replayed (up to the disconnect, or all of it).
    pub call_frames: u64,
    /// Where the call ended and how: the logged disconnect, or the end of the audio.
    pub ended: Ending,
}

/// Replays a call: feeds `wav`'s audio through `session`, applying each logged action
/// and each call event (e.g. from a metadata document: hold, DTMF…) at its time.
/// At equal times, actions come before events. After a disconnect the remaining
/// actions are refused and no more audio is read; if there is none, the end of the
/// audio ends the call (see [`Session::finish`]).
///
/// Fails (with the path `$[i].at_ms`) if an action lies after the end of the audio,
/// and, like [`Session::finish`], on any write error. Refused actions are outcomes,
/// not failures.
pub fn replay<R: Read, S: Sinks>(
    mut session: Session<S>,
    wav: &mut WavReader<R>,
    actions: &[TimedAction],
    events: &[Event],
) -> Result<Replay<S>> {
    let format = wav.info().format;
    if format != session.format() {
        return Err(Error::misuse(
            "the call audio's format differs from the session's",
        ));
    }
    let ba = format.block_align() as u64;
    let rate = format.sample_rate;
    let after_end = |i: usize, at: u64, total: u64| {
        action_err(
            i,
            "at_ms",
            format!(
                "{} ms is after the end of the call audio ({} ms)",
                meta::sample_to_ms(at, rate),
                meta::sample_to_ms(total, rate)
            ),
        )
    };
    if let Some(total) = wav.info().data_len.map(|l| l / ba) {
        if let Some((i, a)) = actions
            .iter()
            .enumerate()
            .find(|(_, a)| a.at_sample > total)
        {
            return Err(after_end(i, a.at_sample, total));
        }
    }
    let mut buf = vec![0u8; IO_BUFFER - IO_BUFFER % ba as usize];
    // Feeds audio up to call position `to`; false if the audio ends first.
    let mut feed = |s: &mut Session<S>, to: u64| -> Result<bool> {
        while s.position() < to {
            let want = (to - s.position()).saturating_mul(ba).min(buf.len() as u64) as usize;
            let n = wav.read_data(&mut buf[..want])?;
            if n == 0 {
                return Ok(false);
            }
            s.write_audio(&buf[..n])?;
        }
        Ok(true)
    };
    let mut outcomes = Vec::with_capacity(actions.len());
    let mut ended = None;
    let (mut ai, mut ei) = (0, 0);
    while ai < actions.len() || ei < events.len() {
        let take_action = match (actions.get(ai), events.get(ei)) {
            (Some(a), Some(e)) => a.at_sample <= e.at_sample,
            (a, _) => a.is_some(),
        };
        let at = if take_action {
            actions[ai].at_sample
        } else {
            events[ei].at_sample
        };
        let live = ended.is_none();
        if live && !feed(&mut session, at)? {
            let total = session.position();
            return Err(if take_action {
                after_end(ai, at, total)
            } else {
                Error::metadata(
                    "events",
                    format!(
                        "an event at {} ms is after the end of the call audio ({} ms)",
                        meta::sample_to_ms(at, rate),
                        meta::sample_to_ms(total, rate)
                    ),
                )
            });
        }
        if take_action {
            let a = &actions[ai];
            let result = match session.apply_with_reason(a.action, &a.by, a.reason.as_deref()) {
                Ok(applied) => Ok(applied),
                Err(SessionError::Refused(r)) => Err(r),
                Err(SessionError::Failed(e)) => return Err(e),
            };
            if matches!(result, Ok(Applied::Disconnected(_))) {
                ended = Some(Ending {
                    action: Action::Disconnect,
                    by: a.by.clone(),
                    reason: Some(a.reason.clone().unwrap_or_else(|| "disconnected".into())),
                });
            }
            outcomes.push(Outcome {
                action: a.clone(),
                result,
            });
            ai += 1;
        } else {
            if live {
                session.add_event(events[ei].clone())?;
            }
            ei += 1;
        }
    }
    if ended.is_none() {
        feed(&mut session, u64::MAX)?;
    }
    let call_frames = session.position();
    let (sinks, outputs) = session.finish()?;
    Ok(Replay {
        outcomes,
        outputs,
        sinks,
        call_frames,
        ended: ended.unwrap_or(Ending {
            action: Action::Disconnect,
            by: SYSTEM.into(),
            reason: Some(END_OF_AUDIO.into()),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::reader::{Decoder, Item};
    use crate::meta::Role;
    use crate::{Encoding, Key};
    use std::collections::BTreeMap;

    /// Keeps everything in memory and checks that every output created is committed
    /// or discarded exactly once.
    #[derive(Debug, Default)]
    struct MemSinks {
        wavs: BTreeMap<u32, Vec<u8>>,
        sasfs: BTreeMap<u32, Vec<u8>>,
        open: i64,
        discarded_wavs: Vec<u32>,
        discarded_sasfs: Vec<u32>,
        fail_sasf: bool,
    }

    impl Sinks for MemSinks {
        type Wav = Vec<u8>;
        type Sasf = Vec<u8>;
        fn create_wav(&mut self, _n: u32, f: AudioFormat) -> Result<WavWriter<Vec<u8>>> {
            self.open += 1;
            WavWriter::new_streaming(Vec::new(), f)
        }
        fn commit_wav(&mut self, n: u32, w: WavWriter<Vec<u8>>) -> Result<()> {
            self.open -= 1;
            assert!(self.wavs.insert(n, w.finish()?).is_none(), "WAV {n} twice");
            Ok(())
        }
        fn discard_wav(&mut self, n: u32, _w: WavWriter<Vec<u8>>) -> Result<()> {
            self.open -= 1;
            self.discarded_wavs.push(n);
            Ok(())
        }
        fn create_sasf(&mut self, _n: u32) -> Result<Vec<u8>> {
            if self.fail_sasf {
                return Err(std::io::Error::other("disk full").into());
            }
            self.open += 1;
            Ok(Vec::new())
        }
        fn commit_sasf(&mut self, n: u32, out: Vec<u8>) -> Result<()> {
            self.open -= 1;
            assert!(self.sasfs.insert(n, out).is_none(), "snippet {n} twice");
            Ok(())
        }
        fn discard_sasf(&mut self, n: u32, _out: Vec<u8>) -> Result<()> {
            self.open -= 1;
            self.discarded_sasfs.push(n);
            Ok(())
        }
    }

    const RATE: u32 = 8000;
    const BA: usize = 4;

    fn format() -> AudioFormat {
        AudioFormat::new(Encoding::S16, 2, RATE).unwrap()
    }

    /// The call audio: distinct bytes at every position.
    fn call_audio(frames: usize) -> Vec<u8> {
        (0..frames * BA)
            .map(|i| ((i * 131 + i / 251) % 256) as u8)
            .collect()
    }

    fn person(id: &str, role: Role, ch: u16) -> Participant {
        Participant {
            id: id.into(),
            name: None,
            role,
            address: None,
            channels: vec![ch],
            extra: Default::default(),
        }
    }

    fn builder(key: Option<&Key>) -> SessionBuilder {
        let key = key.cloned();
        SessionBuilder::new(format())
            .snippets(|b| {
                let b = b.chunk_frames(3);
                match key {
                    Some(k) => b.encrypted(k),
                    None => b,
                }
            })
            .call_info(RecordingInfo {
                id: Some("call".into()),
                started_at: Some("2026-11-23T10:00:00Z".parse().unwrap()),
                channels: vec!["agent".into(), "customer".into()],
                extra: Default::default(),
            })
            .participants(vec![
                person("u0", Role::Agent, 0),
                person("u1", Role::Customer, 1),
            ])
    }

    fn wav_audio(bytes: &[u8]) -> Vec<u8> {
        let mut r = WavReader::new(bytes).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = r.read_data(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// A snippet's audio, INFO and events as (time, type, by, participant).
    #[allow(clippy::type_complexity)]
    fn read_snippet(
        bytes: &[u8],
        key: Option<&Key>,
    ) -> (
        Vec<u8>,
        RecordingInfo,
        Vec<(u64, String, String, Option<String>)>,
        Vec<u64>,
    ) {
        let mut r = Decoder::new(bytes).unwrap().open(key).unwrap();
        let (mut audio, mut events, mut parts) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(item) = r.next_item().unwrap() {
            match item {
                Item::Audio { data, .. } => audio.extend_from_slice(data),
                Item::Participant { at_sample, .. } => parts.push(at_sample),
                Item::Event(e) => {
                    let by = e.extra.get("by").and_then(Value::as_str).unwrap_or("");
                    let by = by.to_string();
                    events.push((
                        e.at_sample,
                        e.kind.type_name().to_string(),
                        by,
                        e.participant,
                    ));
                }
                _ => {}
            }
        }
        (audio, r.info().clone(), events, parts)
    }

    // ---------- the reference model ----------

    #[derive(Debug, Clone, PartialEq)]
    enum M {
        Idle,
        Adhoc {
            n: u32,
            from: u64,
            by: String,
        },
        Snip {
            n: u32,
            from: u64,
            merged: bool,
            events: Vec<(u64, String, String)>,
        },
        Ended,
    }

    #[derive(Debug, Clone, PartialEq)]
    struct Expect {
        kind: OutputKind,
        number: u32,
        from: u64,
        to: u64,
        events: Vec<(u64, String, String)>,
    }

    /// The rules, written per action rather than per state.
    struct Model {
        state: M,
        adhocs: u32,
        snippets: u32,
        files: Vec<Expect>,
    }

    impl Model {
        fn new() -> Model {
            Model {
                state: M::Idle,
                adhocs: 0,
                snippets: 0,
                files: Vec::new(),
            }
        }

        fn stop(&mut self, pos: u64, how: &str, by: &str) {
            match std::mem::replace(&mut self.state, M::Idle) {
                M::Adhoc { n, from, .. } => self.files.push(Expect {
                    kind: OutputKind::Adhoc,
                    number: n,
                    from,
                    to: pos,
                    events: vec![],
                }),
                M::Snip {
                    n,
                    from,
                    mut events,
                    ..
                } => {
                    events.push((pos - from, how.into(), by.into()));
                    self.files.push(Expect {
                        kind: OutputKind::Snippet,
                        number: n,
                        from,
                        to: pos,
                        events,
                    });
                }
                _ => unreachable!(),
            }
        }

        fn step(&mut self, a: Action, by: &str, pos: u64) -> std::result::Result<(), &'static str> {
            let ended = self.state == M::Ended;
            let adhoc = matches!(self.state, M::Adhoc { .. });
            let snip = matches!(self.state, M::Snip { .. });
            let merged = matches!(self.state, M::Snip { merged: true, .. });
            if ended {
                return Err("call-ended");
            }
            match a {
                Action::AdhocStart if snip => Err("snippet-running"),
                Action::AdhocStart if adhoc => Err("adhoc-running"),
                Action::AdhocStart => {
                    self.adhocs += 1;
                    self.state = M::Adhoc {
                        n: self.adhocs,
                        from: pos,
                        by: by.into(),
                    };
                    Ok(())
                }
                Action::SnippetStart if snip => Err("snippet-running"),
                Action::SnippetStart => {
                    self.snippets += 1;
                    self.state = match std::mem::replace(&mut self.state, M::Idle) {
                        M::Adhoc { from, by: a_by, .. } => M::Snip {
                            n: self.snippets,
                            from,
                            merged: true,
                            events: vec![
                                (0, "adhoc_start".into(), a_by),
                                (pos - from, "snippet_start".into(), by.into()),
                            ],
                        },
                        _ => M::Snip {
                            n: self.snippets,
                            from: pos,
                            merged: false,
                            events: vec![(0, "snippet_start".into(), by.into())],
                        },
                    };
                    Ok(())
                }
                Action::AdhocStop if adhoc || merged => {
                    self.stop(pos, "adhoc_stop", by);
                    Ok(())
                }
                Action::AdhocStop if snip => Err("no-adhoc"),
                Action::SnippetStop if snip => {
                    self.stop(pos, "snippet_stop", by);
                    Ok(())
                }
                Action::SnippetStop if adhoc => Err("no-snippet"),
                Action::AdhocStop | Action::SnippetStop => Err("not-recording"),
                Action::Disconnect => {
                    if adhoc || snip {
                        self.stop(pos, "disconnect", by);
                    }
                    self.state = M::Ended;
                    Ok(())
                }
            }
        }
    }

    const GAP: usize = 5;

    /// Drives a session and the model through `seq`, GAP frames of audio before,
    /// between and after the actions, and checks everything the session wrote.
    fn check_sequence(seq: &[Action], key: Option<&Key>) {
        let frames = GAP * (seq.len() + 1);
        let call = call_audio(frames);
        let mut s = builder(key).start(MemSinks::default()).unwrap();
        let mut model = Model::new();
        let mut fed = 0usize;
        // Feeds GAP frames in awkward pieces, so partial frames are carried.
        let mut feed = |s: &mut Session<MemSinks>| {
            let part = &call[fed * BA..(fed + GAP) * BA];
            s.write_audio(&part[..7]).unwrap();
            s.write_audio(&part[7..8]).unwrap();
            s.write_audio(&part[8..]).unwrap();
            fed += GAP;
        };
        feed(&mut s);
        for (i, &a) in seq.iter().enumerate() {
            let by = format!("u{i}");
            let pos = s.position();
            let want = model.step(a, &by, pos);
            let got = s.apply(a, &by);
            match (&want, &got) {
                (Ok(()), Ok(_)) => {}
                (Err(code), Err(SessionError::Refused(r))) => {
                    assert_eq!(r.code(), *code, "{seq:?} step {i}")
                }
                _ => panic!("{seq:?} step {i}: model {want:?}, session {got:?}"),
            }
            let status_ok = match (&model.state, s.status()) {
                (M::Idle, Status::Idle) | (M::Ended, Status::Ended) => true,
                (M::Adhoc { n, from, .. }, Status::Adhoc { adhoc, since }) => {
                    *n == adhoc && *from == since
                }
                (
                    M::Snip {
                        n, from, merged, ..
                    },
                    Status::Snippet {
                        snippet,
                        since,
                        merged_adhoc,
                    },
                ) => *n == snippet && *from == since && *merged == merged_adhoc.is_some(),
                _ => false,
            };
            assert!(
                status_ok,
                "{seq:?} step {i}: {:?} vs {:?}",
                model.state,
                s.status()
            );
            feed(&mut s);
        }
        let end = s.position();
        assert_eq!(end as usize, frames);
        if model.state != M::Ended {
            model.step(Action::Disconnect, SYSTEM, end).unwrap();
        }
        let (sinks, outputs) = s.finish().unwrap();
        assert_eq!(
            sinks.open, 0,
            "{seq:?}: an output was neither committed nor discarded"
        );
        let got: Vec<(OutputKind, u32, u64, u64)> = outputs
            .iter()
            .map(|o| (o.kind, o.number, o.from, o.to))
            .collect();
        let want: Vec<(OutputKind, u32, u64, u64)> = model
            .files
            .iter()
            .map(|e| (e.kind, e.number, e.from, e.to))
            .collect();
        assert_eq!(got, want, "{seq:?}");
        let wavs = model
            .files
            .iter()
            .filter(|e| e.kind == OutputKind::Adhoc)
            .count();
        assert_eq!(sinks.wavs.len(), wavs, "{seq:?}");
        assert_eq!(sinks.sasfs.len(), model.files.len() - wavs, "{seq:?}");
        for e in &model.files {
            let slice = &call[e.from as usize * BA..e.to as usize * BA];
            match e.kind {
                OutputKind::Adhoc => {
                    assert!(
                        wav_audio(&sinks.wavs[&e.number]) == slice,
                        "{seq:?}: WAV audio"
                    )
                }
                OutputKind::Snippet => {
                    let (audio, info, events, parts) = read_snippet(&sinks.sasfs[&e.number], key);
                    assert!(audio == slice, "{seq:?}: snippet audio");
                    assert_eq!(parts, [0, 0]);
                    assert_eq!(info.id, Some(format!("call-snippet-{}", e.number)));
                    let t = crate::meta::RecordingInfo {
                        started_at: Some("2026-11-23T10:00:00Z".parse().unwrap()),
                        ..Default::default()
                    }
                    .started_at_utc()
                    .unwrap()
                        + time::Duration::nanoseconds(e.from as i64 * 125_000);
                    assert_eq!(info.started_at_utc(), Some(t), "{seq:?}");
                    let got: Vec<(u64, String, String)> = events
                        .iter()
                        .map(|(a, t, b, _)| (*a, t.clone(), b.clone()))
                        .collect();
                    assert_eq!(got, e.events, "{seq:?}");
                    for (_, _, by, participant) in &events {
                        let declared = by == "u0" || by == "u1";
                        assert_eq!(participant.is_some(), declared, "{seq:?}");
                    }
                }
            }
        }
    }

    fn sequences(max_len: usize) -> Vec<Vec<Action>> {
        let mut all = vec![vec![]];
        let mut last = vec![vec![]];
        for _ in 0..max_len {
            let mut next = Vec::new();
            for s in &last {
                for a in Action::ALL {
                    let mut t = s.clone();
                    t.push(a);
                    next.push(t);
                }
            }
            all.extend(next.iter().cloned());
            last = next;
        }
        all
    }

    #[test]
    fn every_ordering_of_up_to_five_actions_matches_the_model() {
        let all = sequences(5);
        assert_eq!(all.len(), 1 + 5 + 25 + 125 + 625 + 3125);
        for seq in &all {
            check_sequence(seq, None);
        }
    }

    #[test]
    fn every_ordering_of_up_to_three_actions_matches_the_model_encrypted() {
        let key = Key::from_bytes([3; 32]);
        for seq in sequences(3) {
            check_sequence(&seq, Some(&key));
        }
    }

    // ---------- one test per rule ----------

    fn start() -> Session<MemSinks> {
        builder(None).start(MemSinks::default()).unwrap()
    }

    /// Feeds the next `n` frames of the call audio.
    fn frames(s: &mut Session<MemSinks>, n: usize) {
        let p = s.position() as usize;
        s.write_audio(&call_audio(p + n)[p * BA..]).unwrap();
    }

    fn refused(r: Result<Applied, SessionError>) -> Refused {
        match r {
            Err(SessionError::Refused(r)) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_adhoc_recording_never_merged_is_a_wav() {
        let mut s = start();
        frames(&mut s, 10);
        assert_eq!(
            s.adhoc_start("u0").unwrap(),
            Applied::AdhocStarted { adhoc: 1 }
        );
        frames(&mut s, 20);
        let Applied::Stopped(f) = s.adhoc_stop("u0").unwrap() else {
            panic!()
        };
        assert_eq!((f.kind, f.from, f.to), (OutputKind::Adhoc, 10, 30));
        frames(&mut s, 5);
        let (sinks, outputs) = s.finish().unwrap();
        assert_eq!(outputs.len(), 1);
        assert_eq!(sinks.wavs.len(), 1);
        assert!(sinks.sasfs.is_empty());
        assert_eq!(sinks.discarded_sasfs, [1], "the standby is discarded");
        assert_eq!(wav_audio(&sinks.wavs[&1]).len(), 20 * BA);
    }

    #[test]
    fn a_snippet_alone_is_a_sasf_with_its_start_and_stop() {
        let mut s = start();
        frames(&mut s, 10);
        assert_eq!(
            s.snippet_start("u1").unwrap(),
            Applied::SnippetStarted { snippet: 1 }
        );
        frames(&mut s, 20);
        s.snippet_stop("u1").unwrap();
        let (sinks, _) = s.finish().unwrap();
        assert!(sinks.wavs.is_empty());
        let (audio, info, events, _) = read_snippet(&sinks.sasfs[&1], None);
        assert_eq!(audio.len(), 20 * BA);
        assert_eq!(
            info.started_at.as_ref().map(|t| t.as_str()),
            Some("2026-11-23T10:00:00.00125Z")
        );
        let kinds: Vec<(u64, &str)> = events.iter().map(|e| (e.0, e.1.as_str())).collect();
        assert_eq!(kinds, [(0, "snippet_start"), (20, "snippet_stop")]);
    }

    #[test]
    fn a_running_adhoc_recording_merges_into_a_snippet_from_its_start() {
        let mut s = start();
        frames(&mut s, 10);
        s.adhoc_start("u0").unwrap();
        frames(&mut s, 20);
        assert_eq!(
            s.snippet_start("u1").unwrap(),
            Applied::Merged {
                adhoc: 1,
                snippet: 1,
                from: 10
            }
        );
        frames(&mut s, 15);
        let Applied::Stopped(f) = s.snippet_stop("u1").unwrap() else {
            panic!()
        };
        assert_eq!(
            f.merged,
            Some(MergedAdhoc {
                adhoc: 1,
                snippet_at: 30,
                snippet_by: "u1".into()
            })
        );
        assert_eq!((f.from, f.to, f.started_by.as_str()), (10, 45, "u0"));
        let (sinks, _) = s.finish().unwrap();
        assert!(
            sinks.wavs.is_empty(),
            "a merged ad hoc recording keeps no WAV"
        );
        assert_eq!(sinks.discarded_wavs, [1]);
        let (audio, _, events, _) = read_snippet(&sinks.sasfs[&1], None);
        assert!(audio == call_audio(45)[10 * BA..]);
        let kinds: Vec<(u64, &str, &str)> = events
            .iter()
            .map(|e| (e.0, e.1.as_str(), e.2.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (0, "adhoc_start", "u0"),
                (20, "snippet_start", "u1"),
                (35, "snippet_stop", "u1")
            ]
        );
    }

    #[test]
    fn either_stop_control_stops_a_merged_snippet() {
        for stop in [Action::AdhocStop, Action::SnippetStop] {
            let mut s = start();
            s.adhoc_start("u0").unwrap();
            frames(&mut s, 4);
            s.snippet_start("u1").unwrap();
            frames(&mut s, 4);
            assert!(matches!(s.apply(stop, "x").unwrap(), Applied::Stopped(_)));
            assert_eq!(s.status(), Status::Idle);
        }
        // A snippet nothing merged into is stopped by Snip only.
        let mut s = start();
        s.snippet_start("u1").unwrap();
        assert_eq!(refused(s.adhoc_stop("u0")), Refused::NoAdhoc { snippet: 1 });
        assert!(s.snippet_stop("u1").is_ok());
    }

    #[test]
    fn no_adhoc_recording_can_start_while_a_snippet_runs_whoever_started_it() {
        let mut s = start();
        s.snippet_start("u1").unwrap();
        for by in ["u0", "u1", "supervisor"] {
            assert_eq!(
                refused(s.adhoc_start(by)),
                Refused::SnippetRunning { snippet: 1 }
            );
        }
        assert_eq!(
            refused(s.snippet_start("u0")),
            Refused::SnippetRunning { snippet: 1 }
        );
        s.snippet_stop("u1").unwrap();
        // The same after a merge.
        s.adhoc_start("u0").unwrap();
        s.snippet_start("u1").unwrap();
        let r = refused(s.adhoc_start("u0"));
        assert_eq!(r, Refused::SnippetRunning { snippet: 2 });
        assert!(r.to_string().contains("no ad hoc recording"));
        // A refusal changes nothing.
        assert_eq!(
            s.status(),
            Status::Snippet {
                snippet: 2,
                since: 0,
                merged_adhoc: Some(1)
            }
        );
    }

    #[test]
    fn disconnect_ends_everything_and_later_actions_are_refused() {
        for first in [None, Some(Action::AdhocStart), Some(Action::SnippetStart)] {
            let mut s = start();
            if let Some(a) = first {
                s.apply(a, "u0").unwrap();
            }
            frames(&mut s, 6);
            let Applied::Disconnected(done) = s.disconnect("u1", "hangup").unwrap() else {
                panic!()
            };
            assert_eq!(done.is_some(), first.is_some());
            if let Some(d) = done {
                assert_eq!(d.ended.reason.as_deref(), Some("hangup"));
            }
            for a in Action::ALL {
                assert_eq!(refused(s.apply(a, "u0")), Refused::CallEnded);
            }
            frames(&mut s, 3); // audio after the call ended is dropped
            let (sinks, outputs) = s.finish().unwrap();
            assert_eq!(sinks.open, 0);
            assert!(outputs.iter().all(|o| o.to == 6));
            if first == Some(Action::SnippetStart) {
                let (_, _, events, _) = read_snippet(&sinks.sasfs[&1], None);
                assert_eq!(events.last().unwrap().1, "disconnect");
            }
        }
    }

    #[test]
    fn recordings_one_after_another_give_both_files() {
        let mut s = start();
        s.adhoc_start("u0").unwrap();
        frames(&mut s, 3);
        s.adhoc_stop("u0").unwrap();
        frames(&mut s, 3);
        s.snippet_start("u1").unwrap();
        frames(&mut s, 3);
        s.snippet_stop("u1").unwrap();
        s.adhoc_start("u0").unwrap();
        frames(&mut s, 3);
        let (sinks, outputs) = s.finish().unwrap();
        assert_eq!(sinks.wavs.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(sinks.sasfs.keys().copied().collect::<Vec<_>>(), [1]);
        // The end of the audio ends the call: a disconnect by the system.
        let last = outputs.last().unwrap();
        assert_eq!(last.ended.by, SYSTEM);
        assert_eq!(last.ended.reason.as_deref(), Some(END_OF_AUDIO));
    }

    #[test]
    fn call_events_go_to_the_snippet_or_the_standby() {
        let hold = |at| Event {
            at_sample: at,
            participant: Some("u0".into()),
            kind: EventKind::Hold,
            extra: Default::default(),
        };
        let mut s = start();
        assert!(!s.add_event(hold(0)).unwrap(), "nothing records");
        s.adhoc_start("u0").unwrap();
        frames(&mut s, 4);
        assert!(s.add_event(hold(4)).unwrap());
        s.snippet_start("u1").unwrap();
        frames(&mut s, 4);
        assert!(s.add_event(hold(8)).unwrap());
        // A wrong time or an unknown participant is refused without harm.
        assert!(matches!(s.add_event(hold(3)), Err(SessionError::Failed(_))));
        let mut ghost = hold(8);
        ghost.participant = Some("ghost".into());
        assert!(matches!(s.add_event(ghost), Err(SessionError::Failed(_))));
        s.snippet_stop("u1").unwrap();
        let (sinks, _) = s.finish().unwrap();
        let (_, _, events, _) = read_snippet_any(&sinks.sasfs[&1]);
        assert_eq!(
            events,
            [
                (0, "adhoc_start"),
                (4, "hold"),
                (4, "snippet_start"),
                (8, "hold"),
                (8, "snippet_stop")
            ]
        );
    }

    /// Event times and types of a snippet, whatever its events carry.
    fn read_snippet_any(bytes: &[u8]) -> ((), (), Vec<(u64, &'static str)>, ()) {
        let mut r = Decoder::new(bytes).unwrap().open(None).unwrap();
        let mut events = Vec::new();
        while let Some(item) = r.next_item().unwrap() {
            if let Item::Event(e) = item {
                events.push((e.at_sample, e.kind.type_name()));
            }
        }
        ((), (), events, ())
    }

    #[test]
    fn a_failing_sink_poisons_the_session_and_partial_frames_are_refused() {
        let mut s = builder(None)
            .start(MemSinks {
                fail_sasf: true,
                ..Default::default()
            })
            .unwrap();
        match s.snippet_start("u0") {
            Err(SessionError::Failed(e)) => assert!(e.to_string().contains("disk full")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.write_audio(&[0; 4]),
            Err(SessionError::Failed(_))
        ));
        let mut s = start();
        s.write_audio(&[0; 6]).unwrap();
        assert!(matches!(s.finish(), Err(SessionError::Failed(_))));
        // A refusal is a misuse error where the crate's Result is needed.
        let e: Error = SessionError::Refused(Refused::NotRecording).into();
        assert_eq!(e.class(), "misuse");
    }

    #[test]
    fn bad_configuration_is_refused_at_start() {
        let dup = SessionBuilder::new(format()).participants(vec![
            person("a", Role::Agent, 0),
            person("a", Role::Agent, 1),
        ]);
        assert!(dup.start(MemSinks::default()).is_err());
        let ch = SessionBuilder::new(format()).participants(vec![person("a", Role::Agent, 2)]);
        assert!(ch.start(MemSinks::default()).is_err());
    }

    // ---------- action logs and replay ----------

    fn path_of(text: &str) -> String {
        match parse_actions(text, RATE).unwrap_err().into_kind() {
            crate::ErrorKind::InvalidMetadata { path, .. } => path,
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn action_logs_are_validated_with_json_paths() {
        let ok = parse_actions(
            r#"[{"at_ms":0,"action":"adhoc_start","by":"a1"},
                {"at_ms":1500,"action":"disconnect","by":"c1","reason":"hangup"}]"#,
            RATE,
        )
        .unwrap();
        assert_eq!(ok[1].at_sample, 12000);
        assert_eq!(ok[1].reason.as_deref(), Some("hangup"));
        let a = r#"{"at_ms":0,"action":"adhoc_start","by":"a"}"#;
        for (doc, path) in [
            ("[", "$"),
            ("{}", "$"),
            ("[1]", "$[0]"),
            (r#"[{"action":"adhoc_start","by":"a"}]"#, "$[0].at_ms"),
            (
                r#"[{"at_ms":-1,"action":"adhoc_start","by":"a"}]"#,
                "$[0].at_ms",
            ),
            (
                r#"[{"at_ms":1.5,"action":"adhoc_start","by":"a"}]"#,
                "$[0].at_ms",
            ),
            (
                &format!(r#"[{{"at_ms":5,"action":"adhoc_start","by":"a"}},{a}]"#),
                "$[1].at_ms",
            ),
            (
                &format!(r#"[{a},{{"at_ms":1,"action":"snip","by":"a"}}]"#),
                "$[1].action",
            ),
            (r#"[{"at_ms":1,"by":"a"}]"#, "$[0].action"),
            (r#"[{"at_ms":1,"action":"adhoc_start"}]"#, "$[0].by"),
            (r#"[{"at_ms":1,"action":"adhoc_start","by":""}]"#, "$[0].by"),
            (
                r#"[{"at_ms":1,"action":"adhoc_start","by":"a","reason":"x"}]"#,
                "$[0].reason",
            ),
            (
                r#"[{"at_ms":1,"action":"disconnect","by":"a","reason":7}]"#,
                "$[0].reason",
            ),
            (
                r#"[{"at_ms":1,"action":"adhoc_start","by":"a","at":2}]"#,
                "$[0].at",
            ),
        ] {
            assert_eq!(path_of(doc), path, "{doc}");
        }
    }

    fn call_wav(frames: usize) -> Vec<u8> {
        let mut w = WavWriter::new_seekable(std::io::Cursor::new(Vec::new()), format()).unwrap();
        w.write_data(&call_audio(frames)).unwrap();
        w.finish_seekable().unwrap().into_inner()
    }

    #[test]
    fn replay_applies_actions_and_events_at_their_times() {
        let wav = call_wav(8000 * 3);
        let actions = parse_actions(
            r#"[{"at_ms":500,"action":"adhoc_start","by":"u0"},
                {"at_ms":1000,"action":"snippet_start","by":"u1"},
                {"at_ms":1200,"action":"adhoc_start","by":"u0"},
                {"at_ms":2000,"action":"adhoc_stop","by":"u0"},
                {"at_ms":2500,"action":"disconnect","by":"u1","reason":"hangup"},
                {"at_ms":2600,"action":"snippet_start","by":"u1"}]"#,
            RATE,
        )
        .unwrap();
        let events = vec![Event {
            at_sample: 8000,
            participant: Some("u0".into()),
            kind: EventKind::Hold,
            extra: Default::default(),
        }];
        let mut r = WavReader::new(&wav[..]).unwrap();
        let rep = replay(
            builder(None).start(MemSinks::default()).unwrap(),
            &mut r,
            &actions,
            &events,
        )
        .unwrap();
        let codes: Vec<&str> = rep
            .outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(_) => "ok",
                Err(r) => r.code(),
            })
            .collect();
        assert_eq!(
            codes,
            ["ok", "ok", "snippet-running", "ok", "ok", "call-ended"]
        );
        assert_eq!(rep.call_frames, 20000);
        assert_eq!(rep.ended.reason.as_deref(), Some("hangup"));
        assert_eq!(rep.outputs.len(), 1);
        let (audio, _, events, _) = read_snippet(&rep.sinks.sasfs[&1], None);
        assert!(audio == call_audio(16000)[4000 * BA..]);
        let kinds: Vec<(u64, &str)> = events.iter().map(|e| (e.0, e.1.as_str())).collect();
        // The action at 1000 ms comes before the event at the same time.
        assert_eq!(
            kinds,
            [
                (0, "adhoc_start"),
                (4000, "snippet_start"),
                (4000, "hold"),
                (12000, "adhoc_stop")
            ]
        );
    }

    #[test]
    fn replay_refuses_actions_after_the_audio() {
        let wav = call_wav(800);
        let actions = parse_actions(
            r#"[{"at_ms":200,"action":"snippet_start","by":"u0"}]"#,
            RATE,
        )
        .unwrap();
        let mut r = WavReader::new(&wav[..]).unwrap();
        let e = replay(
            builder(None).start(MemSinks::default()).unwrap(),
            &mut r,
            &actions,
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("$[0].at_ms"), "{e}");
        assert!(
            e.to_string()
                .contains("after the end of the call audio (100 ms)"),
            "{e}"
        );
    }
}
