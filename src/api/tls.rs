//! What the client trusts and how a certificate failure is told: the bundled web roots, the
//! operating system's store (on Linux and the BSDs read from the usual files, or from
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` when set), and the CA certificates given with `--ca-cert`.
//!
//! Verification is `rustls-platform-verifier`, which reqwest already brings: the bundled
//! roots and `--ca-cert` are its extra roots, so an empty or unreadable OS store changes
//! nothing but what the OS would have added.

use std::sync::Once;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Installs ring as the process's rustls crypto provider, once (no aws-lc, no OpenSSL).
pub(crate) fn install_provider() {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only if another provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The CA certificates in PEM text (one or more `BEGIN CERTIFICATE` blocks). Errors say what
/// is wrong in a few words, for the caller to prefix with the file and the flag.
pub(crate) fn parse_ca_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("it is not valid PEM ({e})"))?;
    if certs.is_empty() {
        return Err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned());
    }
    let mut store = rustls::RootCertStore::empty();
    for (n, cert) in certs.iter().enumerate() {
        store
            .add(cert.clone())
            .map_err(|e| format!("certificate {} cannot be used as a CA ({e})", n + 1))?;
    }
    Ok(certs)
}

/// The roots trusted besides the OS store: the bundled web roots, then `extra`.
pub(crate) fn extra_roots(extra: &[CertificateDer<'static>]) -> Vec<reqwest::Certificate> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .chain(extra)
        .filter_map(|der| reqwest::Certificate::from_der(der).ok())
        .collect()
}

/// When `err` failed because the server's certificate is not trusted, what to tell the user:
/// the reason and the flag that fixes it. Such a failure is the same on every attempt.
pub(crate) fn certificate_problem(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(tls) = rustls_error(e).filter(|tls| is_certificate_error(tls)) {
            return Some(format!(
                "the server's TLS certificate is not trusted: {tls}; if a TLS-inspecting \
                 proxy or an internal CA signs it, pass that CA with --ca-cert PATH or set \
                 SSL_CERT_FILE"
            ));
        }
        next = e.source();
    }
    None
}

/// When `err` failed because the base URL's scheme is not what the server speaks, what to
/// tell the user: `https://` to a port that answers in plain HTTP (the handshake reads an
/// HTTP answer where a TLS record should be), or `http://` to a TLS port (the answer, a TLS
/// alert, does not start with an HTTP version). The same on every attempt.
pub(crate) fn wrong_scheme(err: &reqwest::Error) -> Option<String> {
    let https = err.url().is_some_and(|u| u.scheme() == "https");
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let plain_answer = matches!(
            rustls_error(e),
            Some(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            ))
        );
        if https && plain_answer {
            return Some(
                "the server speaks plain HTTP, not HTTPS: use http:// in --base-url".to_owned(),
            );
        }
        // hyper's words when an answer does not start with `HTTP/1.x`.
        if !https && e.source().is_none() && e.to_string() == "invalid HTTP version parsed" {
            return Some(
                "the server speaks HTTPS, not plain HTTP: use https:// in --base-url".to_owned(),
            );
        }
        next = e.source();
    }
    None
}

/// The rustls error `e` is or wraps. An I/O error's `source()` skips the error it holds,
/// which is where rustls's is (inside one or more I/O errors), so those are looked into.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    rustls_error(e.downcast_ref::<std::io::Error>()?.get_ref()?)
}

fn is_certificate_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_a_certificate_is_refused_with_a_reason() {
        assert!(parse_ca_pem(b"")
            .unwrap_err()
            .contains("no PEM certificate"));
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(parse_ca_pem(key_only)
            .unwrap_err()
            .contains("no PEM certificate"));
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_ca_pem(junk).unwrap_err().contains("certificate 1"));
    }

    #[test]
    fn a_rustls_error_inside_an_io_error_is_found() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let why = certificate_problem(&io).unwrap();
        assert!(
            why.contains("certificate") && why.contains("--ca-cert"),
            "{why}"
        );
        let nested = std::io::Error::other(io);
        assert!(certificate_problem(&nested).is_some());
        let other = std::io::Error::other(rustls::Error::HandshakeNotComplete);
        assert_eq!(certificate_problem(&other), None);
    }
}
