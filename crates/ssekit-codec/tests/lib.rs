//! Integration tests of the codec: spec cases as data, a slow oracle decoder written from the
//! specification, and property tests holding the fast decoder to it.

mod cases;
mod differential;
mod encoder;
mod oracle;
mod props;
mod recovery;
mod replay;
mod support;
