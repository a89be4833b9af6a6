//! Hostile policy: every export spins forever (world `policy`).
//! The host must stop it with its deadline (epoch interruption / fuel).

wit_bindgen::generate!({ world: "policy", path: "../../../wit/rmqtt-hooks-0.1.0" });

use exports::rmqtt::hooks::{authenticate, authorize_publish, authorize_subscribe, events};
use rmqtt::hooks::types::*;

struct Spin;

/// A loop LLVM cannot remove: every round goes through `black_box`.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl authenticate::Guest for Spin {
    fn authenticate(_req: ConnectRequest) -> AuthDecision {
        spin()
    }
}
impl authorize_subscribe::Guest for Spin {
    fn authorize_subscribe(_s: Session, _sub: Subscription) -> SubscribeDecision {
        spin()
    }
}
impl authorize_publish::Guest for Spin {
    fn authorize_publish(_s: Session, _m: Message) -> PublishDecision {
        spin()
    }
}
impl events::Guest for Spin {
    fn on_event(_e: Event) {
        spin()
    }
}

export!(Spin);
