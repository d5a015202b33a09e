//! Integration tests of the `ssekit` binary: the command-line contract.

mod browser;
mod codec_commands;
mod demo;
mod get;
mod page;
mod serve;
