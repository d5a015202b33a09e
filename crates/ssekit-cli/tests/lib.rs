//! Integration tests of the `ssekit` binary: the command-line contract.

mod codec_commands;
mod get;
mod serve;
