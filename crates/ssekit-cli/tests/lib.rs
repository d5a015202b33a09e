//! Integration tests of the `ssekit` binary: the command-line contract.

mod codec_commands;
mod demo;
mod get;
mod page;
mod serve;
