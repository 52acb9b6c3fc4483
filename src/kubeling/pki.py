"""Cluster PKI: a CA, the API server's serving certificate, the admin client certificate,
the admin bearer token and the kubeconfig. Created on first start, reused afterwards, like k3s's
`server/tls/` directory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class ClusterPKI:
    dir: str
    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    admin_cert: str
    admin_key: str
    token_file: str
    sa_key: str

    def admin_token(self) -> str:
        with open(self.token_file) as f:
            return f.read().split(",", 1)[0].strip()


def peer_identity(peercert: dict | None) -> tuple[str, tuple[str, ...]]:
    """(common name, organizations) of a verified TLS peer (`ssl` getpeercert() form)."""
    cn, orgs = "", []
    for rdn in (peercert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                cn = v
            elif k == "organizationName":
                orgs.append(v)
    return cn, tuple(orgs)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: str, key: ec.EllipticCurvePrivateKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


def _write_cert(path: str, cert: x509.Certificate) -> None:
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def _load(cert_path: str, key_path: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return cert, key  # type: ignore[return-value]


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
    sans: list[x509.GeneralName] | None = None,
    days: int = 3650,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        # key identifiers: RFC 5280 (and `openssl verify -x509_strict`, Python 3.13's default
        # VERIFY_X509_STRICT) want a subject key id on CAs and an authority key id on the rest
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    # client-go's cert helpers: CAs KeyEncipherment|DigitalSignature|CertSign, leaves
    # KeyEncipherment|DigitalSignature plus server or client auth
    b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
    if not ca:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _sans(bind: str, service_ip: str, extra: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local"]
    ips = ["127.0.0.1", service_ip]
    for h in [bind, *extra]:
        try:
            ipaddress.ip_address(h)
            ips.append(h)
        except ValueError:
            dns.append(h)
    for d in dict.fromkeys(dns):
        names.append(x509.DNSName(d))
    for ip in dict.fromkeys(ips):
        if ip not in ("0.0.0.0", "::"):
            names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    return names


def ensure_pki(data_dir: str, bind: str, service_ip: str, extra_sans: list[str] | None = None) -> ClusterPKI:
    """Create missing PKI files under DATA/server/tls; never overwrite existing ones."""
    tls = os.path.join(data_dir, "server", "tls")
    os.makedirs(tls, mode=0o700, exist_ok=True)
    p = ClusterPKI(
        dir=tls,
        ca_cert=os.path.join(tls, "server-ca.crt"),
        ca_key=os.path.join(tls, "server-ca.key"),
        server_cert=os.path.join(tls, "serving-kube-apiserver.crt"),
        server_key=os.path.join(tls, "serving-kube-apiserver.key"),
        admin_cert=os.path.join(tls, "client-admin.crt"),
        admin_key=os.path.join(tls, "client-admin.key"),
        token_file=os.path.join(data_dir, "server", "token"),
        sa_key=os.path.join(tls, "service.key"),
    )
    if not (os.path.exists(p.ca_cert) and os.path.exists(p.ca_key)):
        key = _key()
        cert = _issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubeling-ca")]), key, None, key, ca=True)
        _write_key(p.ca_key, key)
        _write_cert(p.ca_cert, cert)
    ca, ca_key = _load(p.ca_cert, p.ca_key)
    if not os.path.exists(p.server_cert):
        key = _key()
        cert = _issue(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
            key, ca, ca_key, server=True, sans=_sans(bind, service_ip, extra_sans or []), days=365 * 5,
        )
        _write_key(p.server_key, key)
        _write_cert(p.server_cert, cert)
    if not os.path.exists(p.admin_cert):
        key = _key()
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-admin"),
        ])
        cert = _issue(subject, key, ca, ca_key, days=365 * 5)
        _write_key(p.admin_key, key)
        _write_cert(p.admin_cert, cert)
    if not os.path.exists(p.sa_key):
        _write_key(p.sa_key, _key())
    if not os.path.exists(p.token_file):
        fd = os.open(p.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            # kube-apiserver --token-auth-file format: token,user,uid,"group1,group2"
            f.write(f'{secrets.token_hex(24)},admin,admin,"system:masters"\n')
    return p


def write_kubeconfig(path: str, pki: ClusterPKI, server_url: str, cert: str = "", key: str = "",
                     user: str = "kubeling-admin") -> None:
    """A kubeconfig for `server_url` with a client certificate: the admin's by default."""
    cert, key = cert or pki.admin_cert, key or pki.admin_key

    def b64(p: str) -> str:
        import base64

        with open(p, "rb") as f:
            return base64.b64encode(f.read()).decode()

    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubeling", "cluster": {
            "server": server_url, "certificate-authority-data": b64(pki.ca_cert)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)}}],
        "contexts": [{"name": "kubeling", "context": {"cluster": "kubeling", "user": user}}],
        "current-context": "kubeling",
        "preferences": {},
    }
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    os.replace(tmp, path)


def issue_cert(pki: ClusterPKI, cert_path: str, key_path: str, common_name: str, *,
               organizations: tuple[str, ...] = (), server: bool = False, hosts: list[str] | None = None,
               days: int = 365) -> None:
    """Issue a leaf certificate from the cluster CA: kubelet serving certs (server=True, SANs
    from `hosts`) and the API server's kubelet client certificate (server=False)."""
    ca, ca_key = _load(pki.ca_cert, pki.ca_key)
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    sans: list[x509.GeneralName] = []
    for h in dict.fromkeys(hosts or []):
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    key = _key()
    cert = _issue(x509.Name(names), key, ca, ca_key, server=server, sans=sans or None, days=days)
    os.makedirs(os.path.dirname(cert_path) or ".", exist_ok=True)
    _write_key(key_path, key)
    _write_cert(cert_path, cert)


def ensure_client_kubeconfig(pki: ClusterPKI, path: str, server_url: str, common_name: str,
                             organizations: tuple[str, ...] = ()) -> None:
    """A kubeconfig at `path` (with `client-<name>.crt/.key` beside it) authenticating as
    `common_name` in groups `organizations`: how a component that is not an admin reaches the
    API over HTTPS (k3s's agent/kubelet.kubeconfig, kubeproxy.kubeconfig). The certificate is
    reissued when it names another identity (e.g. after --node-name changed)."""
    base = os.path.splitext(path)[0]
    cert, key = os.path.join(os.path.dirname(path), f"client-{os.path.basename(base)}.crt"), \
        os.path.join(os.path.dirname(path), f"client-{os.path.basename(base)}.key")
    ensure_client_cert(pki, cert, key, common_name, organizations)
    write_kubeconfig(path, pki, server_url, cert, key, user=common_name)


def ensure_client_cert(pki: ClusterPKI, cert: str, key: str, common_name: str,
                       organizations: tuple[str, ...] = (), days: int = 365) -> None:
    """A client certificate for `common_name` in `organizations` at `cert`/`key`, reissued when
    the one there names another identity (e.g. after --node-name changed, or an older kubeling
    issued the API server's kubelet client certificate under another name)."""
    if os.path.exists(cert) and os.path.exists(key):
        with open(cert, "rb") as f:
            subject = x509.load_pem_x509_certificate(f.read()).subject
        have = (subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                tuple(a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)))
        if have != (common_name, organizations):
            os.remove(cert)
    if not os.path.exists(cert):
        issue_cert(pki, cert, key, common_name, organizations=organizations, days=days)
