//! Integration tests of the `ssekit` binary.
