//! Host bindings of the WIT contract, one module per frozen version of
//! `rmqtt:hooks` (a later `v0_2` sits beside [`v0_1`]).

pub(crate) mod v0_1;
