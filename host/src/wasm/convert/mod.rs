//! Conversions between the hook data model (`crate::hooks::model`) and the
//! bindgen types of each WIT version. Faithful, no validation: the router
//! validates decisions (e.g. a publish topic rewrite with `+`).

mod shared;
pub(crate) mod v0_1;
pub(crate) mod v0_2;
