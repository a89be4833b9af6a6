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
        // More than the hung authentications a context keeps (see the const).
        .max_handshaking_limit(crate::hooks::backend::MAX_HANDSHAKES_IN_FLIGHT)
        .max_mqueue_len(l.limits.max_queued_messages)
        .max_inflight(l.limits.max_inflight)
        .max_packet_size(l.limits.max_packet_size)
        .session_expiry_interval(l.limits.session_expiry_interval)
        .max_session_expiry_interval(l.limits.max_session_expiry_interval)
        .handshake_timeout(l.limits.connect_timeout)
        .max_clientid_len(l.limits.max_client_id_len)
        .max_topic_aliases(l.limits.max_topic_aliases);
    if let Some(tls) = &l.tls {
        builder = builder
            .tls_cert(Some(tls.cert.clone()))
            .tls_key(Some(tls.key.clone()));
        if let Some(auth) = &tls.client_auth {
            // mTLS: a presented certificate must chain to `auth.ca` (else the
            // TLS handshake fails); without `required` a client may present
            // none. The verified certificate reaches the hooks as
            // `ConnectRequest::client_cert` (collect_cert_info), and its CN
            // becomes the username only of a CONNECT that has none.
            builder = builder
                .tls_cross_certificate(true)
                .tls_client_ca_certs(Some(auth.ca.clone()))
                .tls_client_cert_optional(!auth.required)
                .collect_cert_info(true)
                .cert_cn_as_username(auth.identity_as_username)
                .cert_username_if_absent(true);
        }
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
