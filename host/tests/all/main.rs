//! Integration tests of the host crate: one test binary, a module per topic.

mod broker_lifecycle;
mod hook_router;
mod support;
