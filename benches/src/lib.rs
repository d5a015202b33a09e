//! Benchmarks of `ssekit-codec`: the inputs and the contestants they share.
//!
//! This crate is not published. `cargo bench -p ssekit-benches` runs the criterion benchmarks
//! in `benches/` (decoder against peers, encoder against a naive writer, and `ssekit-client`
//! against two SSE clients over loopback);
//! `cargo run --release -p ssekit-benches --bin decode_memory` prints the decoder's peak heap use
//! for growing streams; `--bin bench_table` turns a criterion run into the tables of
//! `docs/performance.md`.

pub mod corpus;
pub mod decoders;
