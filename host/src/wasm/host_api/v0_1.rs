//! `rmqtt:hooks/host@0.1.0`.

use super::super::bindings::v0_1::{host, types};
use super::super::state::StoreState;

impl host::Host for StoreState {
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Trace => log::Level::Trace,
            host::Level::Debug => log::Level::Debug,
            host::Level::Info => log::Level::Info,
            host::Level::Warn => log::Level::Warn,
            host::Level::Error => log::Level::Error,
        };
        self.guest_log(level, &message);
    }

    fn now_millis(&mut self) -> u64 {
        super::now_millis()
    }
}

/// The types-only interface has no functions.
impl types::Host for StoreState {}
