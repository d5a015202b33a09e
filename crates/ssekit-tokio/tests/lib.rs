//! Integration tests of the tokio adapter.
