//! A throwaway certificate authority and the certificates it signs, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A CA whose certificate is written to `{dir}/{name}-ca.pem`.
pub(crate) struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate's PEM file.
    pub cert_file: PathBuf,
}

/// A certificate and its key, as PEM text and files.
pub(crate) struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl Ca {
    pub(crate) fn new(dir: &Path, name: &str) -> anyhow::Result<Self> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        let cert_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&cert_file, issuer.pem())?;
        Ok(Self { issuer, cert_file })
    }

    /// The CA certificate as PEM.
    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and 127.0.0.1, written as `{dir}/{name}.pem`
    /// and `{dir}/{name}.key`.
    pub(crate) fn server(&self, dir: &Path, name: &str) -> anyhow::Result<Leaf> {
        self.leaf(dir, name, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate, written like [`Ca::server`].
    pub(crate) fn client(&self, dir: &Path, name: &str) -> anyhow::Result<Leaf> {
        self.leaf(dir, name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn leaf(&self, dir: &Path, name: &str, usage: ExtendedKeyUsagePurpose) -> anyhow::Result<Leaf> {
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let leaf = Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_file: dir.join(format!("{name}.pem")),
            key_file: dir.join(format!("{name}.key")),
        };
        std::fs::write(&leaf.cert_file, &leaf.cert_pem)?;
        std::fs::write(&leaf.key_file, &leaf.key_pem)?;
        Ok(leaf)
    }
}
