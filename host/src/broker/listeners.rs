//! Binds the validated listeners inside the server's runtime.

use std::net::SocketAddr;

use rmqtt::net::{Builder, Listener};

use crate::config::{Protocol, ValidListener};
use crate::error::BrokerError;

/// A bound listener, as reported to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    pub name: String,
    pub protocol: Protocol,
    pub address: String,
    /// The real port (the OS's choice when the config said 0).
    pub port: u16,
}

/// Binds `l`. Must run inside a tokio runtime.
///
/// rmqtt's own anonymous check is switched off (see `hooks::router`): the
/// router applies `l.allow_anonymous` itself, so every CONNECT reaches it.
///
/// `proxy_protocol` makes the listener expect a PROXY header first (the
/// loopback listeners that tenant gateways hand connections to).
pub fn bind(
    l: &ValidListener,
    proxy_protocol: bool,
) -> Result<(Listener, ListenerInfo), BrokerError> {
    let bind_err = |e: &dyn std::fmt::Display| BrokerError::Bind {
        listener: l.name.clone(),
        addr: l.addr.to_string(),
        reason: e.to_string(),
    };
    let mut builder = Builder::new()
        .name(l.name.clone())
        .laddr(l.addr)
        .allow_anonymous(false)
        .proxy_protocol(proxy_protocol)
        // MQTT packets are small and latency-bound: without TCP_NODELAY a
        // PUBACK can wait for a delayed ACK (tens of ms at p99).
        .nodelay(true)
        .reuseaddr(Some(true))
        .max_mqueue_len(l.limits.max_queued_messages)
        .max_inflight(l.limits.max_inflight)
        .max_packet_size(l.limits.max_packet_size)
        .session_expiry_interval(l.limits.session_expiry_interval)
        .max_session_expiry_interval(l.limits.max_session_expiry_interval);
    if let Some(tls) = &l.tls {
        builder = builder
            .tls_cert(Some(tls.cert.clone()))
            .tls_key(Some(tls.key.clone()));
    }
    let bound = builder.bind().map_err(|e| bind_err(&e))?;
    let local: SocketAddr = bound.local_addr().map_err(|e| bind_err(&e))?;
    let listener = match l.protocol {
        Protocol::Tcp => bound.tcp(),
        Protocol::Tls => bound.tls(),
        Protocol::Ws => bound.ws(),
        Protocol::Wss => bound.wss(),
    }
    .map_err(|e| BrokerError::Tls {
        listener: l.name.clone(),
        reason: format!("{e:#}"),
    })?;
    Ok((
        listener,
        ListenerInfo {
            name: l.name.clone(),
            protocol: l.protocol,
            address: local.ip().to_string(),
            port: local.port(),
        },
    ))
}
