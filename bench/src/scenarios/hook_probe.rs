//! Checks that a hooked broker really runs its hooks before it is measured:
//! the auth hook refuses a wrong password, and the publish ACL drops a
//! message outside the bench user's topic tree while passing one inside it.
//! A hooked row whose hooks silently did nothing would flatter it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;

use crate::loadgen::codec;
use crate::loadgen::conn::{Conn, USER};

/// Time the denied publish gets to overtake the allowed one, were it let through.
const HEAD_START: Duration = Duration::from_millis(100);

pub async fn verify(addr: SocketAddr) -> Result<(), String> {
    auth_refuses(addr).await?;
    acl_filters(addr).await
}

async fn auth_refuses(addr: SocketAddr) -> Result<(), String> {
    match Conn::open_as(addr, "probe-bad-password", "wrong").await {
        Ok(_) => Err("the auth hook let a wrong password in".into()),
        Err(_) => Ok(()),
    }
}

async fn acl_filters(addr: SocketAddr) -> Result<(), String> {
    let denied = "elsewhere/probe";
    let allowed = format!("{USER}/probe");
    let mut sub = Conn::open(addr, "probe-sub").await?;
    sub.subscribe(denied, 0).await?;
    sub.subscribe(&allowed, 0).await?;
    for (id, topic) in [
        ("probe-pub-denied", denied),
        ("probe-pub-allowed", &allowed),
    ] {
        let mut publisher = Conn::open(addr, id).await?;
        let mut out = BytesMut::new();
        codec::publish_stamped(&mut out, topic, 0, 0, 0, 0, 16);
        publisher.write(&out).await?;
        tokio::time::sleep(HEAD_START).await;
    }
    loop {
        let p = sub.next_packet().await?;
        if p.kind != codec::PUBLISH {
            continue;
        }
        return match p.publish_topic() {
            Some(t) if t == allowed.as_bytes() => Ok(()),
            Some(t) => Err(format!(
                "the publish ACL let {} through",
                String::from_utf8_lossy(t)
            )),
            None => Err("malformed PUBLISH".into()),
        };
    }
}
