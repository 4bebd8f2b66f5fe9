//! The operations, each a thin layer over the I/O drivers: [`bridge`] (pack a WAV,
//! read everything or a range), [`recover`] (salvage the authenticated prefix),
//! [`merge`] (an ad hoc WAV into a snippet), [`session`] (recording precedence),
//! [`redact`] (a range silenced, beeped or cut out, after the fact) and [`excerpt`] (an
//! authenticated cut naming its source), which share [`provenance`].

pub mod access;
pub mod annotate;
pub mod bridge;
pub mod excerpt;
pub mod layout;
pub mod merge;
pub mod provenance;
pub mod recover;
pub mod redact;
pub mod session;
