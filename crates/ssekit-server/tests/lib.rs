//! Integration tests of the server crate: the body, the hub, HTTP over loopback, and
//! `Server`'s connection handling.

mod body;
mod http;
mod hub;
mod server;
