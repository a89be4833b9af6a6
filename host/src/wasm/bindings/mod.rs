//! Host bindings of the WIT contract, one module per frozen version of
//! `rmqtt:hooks`.

pub(crate) mod v0_1;
pub(crate) mod v0_2;
