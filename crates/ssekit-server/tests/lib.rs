//! Integration tests of the server crate: the body, the hub, and HTTP over loopback.

mod body;
mod http;
mod hub;
