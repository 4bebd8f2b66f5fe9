//! The operations, each a thin layer over the I/O drivers: [`bridge`] (pack a WAV,
//! read everything or a range), [`recover`] (salvage the authenticated prefix),
//! [`merge`] (an ad hoc WAV into a snippet) and [`session`] (recording precedence).

pub mod access;
pub mod annotate;
pub mod bridge;
pub mod layout;
pub mod merge;
pub mod recover;
pub mod session;
