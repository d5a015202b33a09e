//! TLS helpers: extra roots from a PEM file, and the verifier for `--insecure`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::{Error, ErrorKind};

pub(crate) fn add_pem_file(roots: &mut RootCertStore, file: &Path) -> Result<(), Error> {
    let mut added = 0;
    let certs = CertificateDer::pem_file_iter(file).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("cannot read {}", file.display()),
        )
        .with_source(e)
    })?;
    for cert in certs {
        let cert = cert.map_err(|e| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("bad certificate in {}", file.display()),
            )
            .with_source(e)
        })?;
        roots.add(cert).map_err(|e| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("bad certificate in {}", file.display()),
            )
            .with_source(e)
        })?;
        added += 1;
    }
    if added == 0 {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("no certificate in {}", file.display()),
        ));
    }
    Ok(())
}

/// Accepts any server certificate (but still checks handshake signatures).
#[derive(Debug)]
pub(crate) struct AcceptAny(pub(crate) Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
