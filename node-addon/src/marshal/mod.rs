//! Conversions between JS values and the host's hook model. No decisions are
//! made here: invalid answers are passed on (or rejected as `BadReturn`) for
//! the host's router to judge.

pub mod from_js;
pub mod hooks_object;
pub mod to_js;
