//! Integration tests of the relay and the proxy over loopback, and of redaction.

mod intermediaries;
mod proxy;
mod redaction;
mod upstream;
