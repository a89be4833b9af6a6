//! Integration tests of the host crate: one test binary, a module per topic.
