//! Integration tests of the codec.
