//! `rmqtt:hooks/host@0.2.0` and `data@0.2.0`; `crypto@0.2.0` is in
//! [`super::crypto`].

use super::super::bindings::v0_2::{data, host, types};
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

    fn config(&mut self) -> Option<String> {
        self.config.as_deref().map(str::to_string)
    }
}

impl data::Host for StoreState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.data.as_ref()?.get(&key).map(|v| v.to_vec())
    }
}

/// The types-only interface has no functions.
impl types::Host for StoreState {}
