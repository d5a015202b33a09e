//! Integration tests of the client against a scripted loopback server, and of the reconnect
//! policy on its own.

mod policy;
mod scripted;
mod stream;
mod tls;
