//! Hostile policy: every export allocates (and touches) 1 MiB blocks without
//! end (world `policy`). The host's memory cap makes `memory.grow` fail, the
//! allocator reports the failure and the guest traps (abort).

wit_bindgen::generate!({ world: "policy", path: "../../../wit/rmqtt-hooks-0.1.0" });

use exports::rmqtt::hooks::{authenticate, authorize_publish, authorize_subscribe, events};
use rmqtt::hooks::types::*;

struct Bomb;

fn bomb() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so nothing can be optimised away or left lazy.
        let block = vec![0xA5u8; 1 << 20];
        hoard.push(std::hint::black_box(block));
    }
}

impl authenticate::Guest for Bomb {
    fn authenticate(_req: ConnectRequest) -> AuthDecision {
        bomb()
    }
}
impl authorize_subscribe::Guest for Bomb {
    fn authorize_subscribe(_s: Session, _sub: Subscription) -> SubscribeDecision {
        bomb()
    }
}
impl authorize_publish::Guest for Bomb {
    fn authorize_publish(_s: Session, _m: Message) -> PublishDecision {
        bomb()
    }
}
impl events::Guest for Bomb {
    fn on_event(_e: Event) {
        bomb()
    }
}

export!(Bomb);
