//! The stream core, with no I/O: the [`sealer`] that writers drive and the
//! [`verifier`] that every reader drives (streaming, read-ahead, random access,
//! recovery). Each rule of `docs/FORMAT.md` about chunks lives in one of them.

pub(crate) mod sealer;
pub(crate) mod verifier;
