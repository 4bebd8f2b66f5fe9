//! `sasf-core`: the SASF format (Secure Authenticated Stream Format) for call
//! recordings: audio interleaved with participant and event records, authenticated
//! always and encrypted when asked. The byte layout is specified in `docs/FORMAT.md`.
//!
//! # Which type to use
//! - To **write** a recording: [`WriterBuilder`] → [`Writer`] (generic over
//!   `io::Write`, never seeks) → [`Writer::finish`].
//! - To **read** one: [`Decoder::new`] (public header and key section) →
//!   [`Decoder::require`] (what you accept: [`Require`]) → [`Decoder::open`] (recipient
//!   slot, commitment, header and key-section authentication) → [`Reader::next_item`]
//!   until [`Item::End`]. With a seekable input, [`Reader::into_random_access`].
//! - Keys: [`Key`] (from a key file; wiped on drop).
//! - Metadata: [`meta::Metadata`], [`meta::Participant`], [`meta::Event`].
//! - WAV in and out: [`wav::WavReader`], [`wav::WavWriter`].
//! - Errors: one [`Error`] type; [`Error::kind`] says what and where.
//!
//! # Example
//! ```
//! use sasf_core::{AudioFormat, Decoder, Encoding, Item, WriterBuilder};
//! use sasf_core::meta::{Event, EventKind, Participant, Role};
//!
//! let format = AudioFormat::new(Encoding::S16, 1, 8000)?;
//! let mut w = WriterBuilder::new(format).wrap_output(Vec::new())?;
//! w.add_participant(Participant::new("a1", Role::Agent).with_name("Ann").with_channels([0]))?;
//! w.write_audio(&[0u8; 3200])?; // 1600 frames = 0.2 s
//! w.add_event(Event::new(800, EventKind::Hold).with_participant("a1"))?;
//! let bytes = w.finish()?;
//!
//! let mut r = Decoder::new(&bytes[..])?.open(None)?;
//! let mut frames = 0;
//! while let Some(item) = r.next_item()? {
//!     match item {
//!         Item::Audio { data, .. } => frames += data.len() / 2,
//!         Item::Event(e) => assert_eq!(e.at_sample, 800),
//!         _ => {}
//!     }
//! }
//! assert_eq!(frames, 1600);
//! # Ok::<(), sasf_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audio;
pub mod crypto;
pub mod error;
pub mod format;
pub mod io;
pub mod labels;
pub mod meta;
pub mod ops;
pub(crate) mod stream;
pub mod wav;

pub use ops::{
    access, annotate, bridge, excerpt, layout, merge, provenance, recover, redact, session,
};

pub use audio::{AudioFormat, Encoding};
pub use crypto::{Context, Integrity, Key, Keyring, PublicRecipient, SigningKey, VerifyingKey};
pub use error::{Error, ErrorKind, Place, Result};
pub use format::{ChunkType, DurationClass, Header, KeyArea, KeySection, Totals};
pub use io::random::{RandomAccess, RangeMetadata};
pub use io::reader::{Decoder, Item, RawChunk, Reader};
pub use io::writer::{OutputThread, Writer, WriterBuilder};
pub use io::{Limits, Require};
