//! TLS to cameras with self-signed certificates, trusted by fingerprint.
//!
//! Cameras that offer `rtsps://` or `https://` almost always present a
//! certificate they made themselves, which no authority signed. Custos
//! trusts exactly the certificate whose SHA-256 fingerprint the site's
//! configuration pins (`tls_fingerprint`), and nothing else: not a
//! certificate authority, not a changed certificate.
//!
//! retina speaks plain RTSP only, so an `rtsps://` session runs through a
//! relay on the loopback interface: retina connects to it, and the relay
//! carries the bytes over TLS to the camera (RTSP with RTP interleaved, as
//! `rtsps` cameras send it).

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::source::SourceError;

/// The SHA-256 of a certificate's DER bytes, as `openssl x509 -fingerprint
/// -sha256` shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Parses 64 hex digits, optionally in pairs separated by colons and
    /// optionally prefixed with `sha256:` (as openssl and browsers print it).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let t = t
            .strip_prefix("sha256:")
            .or_else(|| t.strip_prefix("SHA256:"))
            .or_else(|| t.strip_prefix("sha256 Fingerprint="))
            .or_else(|| t.strip_prefix("SHA256 Fingerprint="))
            .unwrap_or(t);
        let digits: String = t.chars().filter(|c| *c != ':').collect();
        if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(
                "expected a SHA-256 fingerprint: 64 hex digits, optionally in pairs separated \
                 by colons (openssl x509 -noout -fingerprint -sha256 shows it)"
                    .into(),
            );
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
                .map_err(|_| "expected hex digits".to_owned())?;
        }
        Ok(Fingerprint(out))
    }

    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Self {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Accepts the one certificate with the pinned fingerprint; the handshake's
/// signatures are still checked, so the camera must hold its private key.
#[derive(Debug)]
struct PinnedCertificate {
    /// Any of these (more than one while a server rolls its certificate
    /// over).
    pins: Vec<Fingerprint>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of(end_entity.as_ref());
        if self.pins.contains(&seen) {
            Ok(ServerCertVerified::assertion())
        } else {
            let pinned: Vec<String> = self.pins.iter().map(ToString::to_string).collect();
            Err(rustls::Error::General(format!(
                "the certificate presented has fingerprint {seen}, not the pinned {}",
                pinned.join(" or ")
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS client configuration that trusts only the pinned certificate.
pub fn client_config(pin: Fingerprint) -> Result<Arc<ClientConfig>, SourceError> {
    client_config_any(&[pin])
}

/// A TLS client configuration that trusts only the certificates pinned.
pub fn client_config_any(pins: &[Fingerprint]) -> Result<Arc<ClientConfig>, SourceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| SourceError::Stream(format!("setting up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
            pins: pins.to_vec(),
            provider,
        }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects to `host:port` over TLS, trusting only `pin`.
pub async fn connect(
    host: &str,
    port: u16,
    pin: Fingerprint,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, SourceError> {
    let tcp = TcpStream::connect((host, port)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::ConnectionRefused {
            SourceError::Refused(format!("{host}:{port}: {e}"))
        } else {
            SourceError::Unreachable(format!("{host}:{port}: {e}"))
        }
    })?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| SourceError::Stream(format!("{host} is not a TLS server name: {e}")))?;
    let connector = tokio_rustls::TlsConnector::from(client_config(pin)?);
    connector.connect(name, tcp).await.map_err(|e| {
        SourceError::Stream(format!("TLS with the camera at {host}:{port} failed: {e}"))
    })
}

/// A loopback relay to a TLS server: `port` takes one plain connection and
/// carries it, over TLS trusting only the pin, to the camera.
pub struct Relay {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Opens the TLS connection first (so that a wrong certificate is the
    /// error, not a confused RTSP client), then listens on 127.0.0.1.
    pub async fn start(host: &str, port: u16, pin: Fingerprint) -> Result<Relay, SourceError> {
        let mut tls = connect(host, port, pin).await?;
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| SourceError::Stream(format!("starting the TLS relay: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| SourceError::Stream(format!("starting the TLS relay: {e}")))?;
        let task = tokio::spawn(async move {
            // One client: the RTSP session this relay was made for.
            let Ok((mut plain, _)) = listener.accept().await else {
                return;
            };
            drop(listener);
            if let Err(e) = tokio::io::copy_bidirectional(&mut plain, &mut tls).await {
                tracing::debug!("TLS relay ended: {e}");
            }
        });
        Ok(Relay {
            port: local.port(),
            task,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_as_openssl_prints_them() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        for text in [
            hex.clone(),
            colons.clone(),
            format!("sha256:{colons}"),
            format!("SHA256 Fingerprint={}", colons.to_uppercase()),
        ] {
            assert_eq!(
                Fingerprint::parse(&text),
                Ok(Fingerprint([0xab; 32])),
                "{text}"
            );
        }
        assert_eq!(Fingerprint([0xab; 32]).to_string(), colons.to_uppercase());
        for bad in ["", "ab", &"zz".repeat(32), &"ab".repeat(33)] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad}");
        }
    }
}
