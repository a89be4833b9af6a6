//! A gateway listener: accepts a connection (terminating TLS if configured),
//! reads its CONNECT, resolves the tenant, and splices the connection to that
//! tenant's loopback listener behind a PROXY-protocol v1 header.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::connect_peek::{read_connect, refusal};
use super::connect_username::with_username;
use super::resolve::Rules;
use super::Directory;

/// How a tls gateway terminates TLS.
pub struct GatewayTls {
    acceptor: TlsAcceptor,
    /// `certIdentityAsUsername`: a CONNECT without a username gets the
    /// verified client certificate's common name.
    identity_as_username: bool,
}

/// One gateway listener.
pub struct Gateway {
    /// Position among the server's gateways (selects the tenant's loopback listener).
    pub index: usize,
    pub name: String,
    pub tls: Option<GatewayTls>,
    pub rules: Arc<Rules>,
    pub directory: Arc<Directory>,
    /// The listener's `connectTimeoutSecs`: the TLS handshake and the whole
    /// CONNECT must arrive within it.
    pub connect_timeout: Duration,
}

impl Gateway {
    /// Accepts connections until the runtime shuts down.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((sock, remote)) => {
                    let gw = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = gw.handle(sock, remote).await {
                            log::debug!(target: "rmqtt_js::tenants", "{}: {remote}: {e}", gw.name);
                        }
                    });
                }
                Err(e) => {
                    log::warn!(target: "rmqtt_js::tenants", "{}: accept failed: {e}", self.name);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    async fn handle(&self, sock: TcpStream, remote: SocketAddr) -> std::io::Result<()> {
        let local = sock.local_addr()?;
        sock.set_nodelay(true)?;
        let deadline = tokio::time::Instant::now() + self.connect_timeout;
        match &self.tls {
            Some(tls) => {
                let stream = tokio::time::timeout_at(deadline, tls.acceptor.accept(sock))
                    .await
                    .map_err(|_| std::io::Error::other("no TLS handshake in time"))??;
                let cert = {
                    use rmqtt::net::TlsCertExtractor;
                    stream
                        .extract_cert_info()
                        .as_ref()
                        .and_then(crate::hooks::convert::client_cert)
                };
                self.splice(
                    stream,
                    remote,
                    local,
                    deadline,
                    cert,
                    tls.identity_as_username,
                )
                .await
            }
            None => {
                self.splice(sock, remote, local, deadline, None, false)
                    .await
            }
        }
    }

    async fn splice<S>(
        &self,
        mut client: S,
        remote: SocketAddr,
        local: SocketAddr,
        deadline: tokio::time::Instant,
        cert: Option<crate::hooks::model::ClientCert>,
        identity_as_username: bool,
    ) -> std::io::Result<()>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let cert_name = cert
            .as_ref()
            .filter(|_| identity_as_username)
            .and_then(|c| c.common_name.clone());
        let connect = match tokio::time::timeout_at(deadline, read_connect(&mut client)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(std::io::Error::other(e)),
            Err(_) => return Err(std::io::Error::other("no CONNECT in time")),
        };
        // Before resolution, so that the tenant is chosen by the username its
        // broker will see.
        let connect = match &cert_name {
            Some(name) => with_username(connect, name).map_err(std::io::Error::other)?,
            None => connect,
        };
        let target = match self.rules.resolve(&connect, remote, cert.as_ref()).await {
            Ok(tenant) => self
                .directory
                .lookup(&tenant, self.index)
                .ok_or_else(|| format!("unknown tenant `{tenant}`")),
            Err(reason) => Err(reason),
        };
        let target = match target {
            Ok(addr) => addr,
            Err(reason) => {
                log::info!(
                    target: "rmqtt_js::tenants",
                    "{}: refused client `{}` from {remote}: {reason}",
                    self.name,
                    connect.client_id
                );
                client
                    .write_all(&refusal(connect.protocol_version, &reason))
                    .await?;
                return client.shutdown().await;
            }
        };
        if let Some(cert) = cert {
            // The tenant's router takes it when this CONNECT is authenticated.
            self.directory.certs().put(remote, &connect.client_id, cert);
        }
        let mut upstream = TcpStream::connect(target).await?;
        upstream.set_nodelay(true)?;
        let family = if remote.is_ipv4() && local.is_ipv4() {
            "TCP4"
        } else {
            "TCP6"
        };
        let (remote_ip, local_ip) = match (remote, local) {
            (SocketAddr::V4(r), SocketAddr::V4(l)) => (r.ip().to_string(), l.ip().to_string()),
            _ => (
                to_v6(remote.ip()).to_string(),
                to_v6(local.ip()).to_string(),
            ),
        };
        let header = format!(
            "PROXY {family} {remote_ip} {local_ip} {} {}\r\n",
            remote.port(),
            local.port()
        );
        upstream.write_all(header.as_bytes()).await?;
        upstream.write_all(&connect.raw).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        Ok(())
    }
}

fn to_v6(ip: std::net::IpAddr) -> std::net::Ipv6Addr {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        std::net::IpAddr::V6(v6) => v6,
    }
}

/// A TLS acceptor for a gateway listener, from validated PEM files.
pub fn tls_acceptor(files: &crate::config::TlsFiles) -> Result<GatewayTls, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", files.cert))?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| format!("{}: {e}", files.key))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = match &files.client_auth {
        Some(auth) => client_verifier(auth, provider.clone())?,
        None => rustls::server::WebPkiClientVerifier::no_client_auth(),
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    Ok(GatewayTls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        identity_as_username: files
            .client_auth
            .as_ref()
            .is_some_and(|a| a.identity_as_username),
    })
}

/// mTLS as on the listeners rmqtt binds: a presented client certificate must
/// chain to `auth.ca`, and without `auth.required` a client may present none.
fn client_verifier(
    auth: &crate::config::ClientAuth,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&auth.ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", auth.ca))?
    {
        roots.add(ca).map_err(|e| format!("{}: {e}", auth.ca))?;
    }
    let builder =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider);
    let builder = if auth.required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder.build().map_err(|e| format!("{}: {e}", auth.ca))
}
