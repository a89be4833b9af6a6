//! Hostile policy: every export panics (world `policy`). Built with
//! `panic = "abort"`, so the panic is a wasm trap (`unreachable`) after the
//! panic message is written to stderr.

wit_bindgen::generate!({ world: "policy", path: "../../../wit/rmqtt-hooks-0.1.0" });

use exports::rmqtt::hooks::{authenticate, authorize_publish, authorize_subscribe, events};
use rmqtt::hooks::types::*;

struct Trap;

impl authenticate::Guest for Trap {
    fn authenticate(_req: ConnectRequest) -> AuthDecision {
        panic!("hostile-trap: authenticate")
    }
}
impl authorize_subscribe::Guest for Trap {
    fn authorize_subscribe(_s: Session, _sub: Subscription) -> SubscribeDecision {
        panic!("hostile-trap: authorize-subscribe")
    }
}
impl authorize_publish::Guest for Trap {
    fn authorize_publish(_s: Session, _m: Message) -> PublishDecision {
        panic!("hostile-trap: authorize-publish")
    }
}
impl events::Guest for Trap {
    fn on_event(_e: Event) {
        panic!("hostile-trap: on-event")
    }
}

export!(Trap);
