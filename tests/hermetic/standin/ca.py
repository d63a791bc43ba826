"""A certificate authority for one hermetic Kafka cluster, kept in a directory so a restart reuses it.

Strimzi gives every cluster a cluster CA (signs the broker certificates; published as the secret
`<cluster>-cluster-ca-cert` with `ca.crt`, `ca.p12`, `ca.password`) and a clients CA (signs KafkaUser
certificates; `<cluster>-clients-ca-cert`). The stand-in builds both from this class. Clients that trust only
`ca.crt` must be able to connect to 127.0.0.1 with hostname checks on, so server certificates carry the
IP 127.0.0.1 and `localhost` as subject alternative names.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClusterCA", "ClientCert", "DEFAULT_HOSTS"]

# Always in every server certificate: the stand-in's brokers listen on 127.0.0.1 and kind-style
# configurations advertise localhost.
DEFAULT_HOSTS = ("localhost", "127.0.0.1")

CA_DAYS = 5 * 365
CERT_DAYS = 365  # Strimzi's default validity
# Certificates start an hour in the past so a slightly skewed clock does not reject a fresh one.
BACKDATE = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ClientCert:
    """A client certificate in the shape of a Strimzi tls KafkaUser secret (PEM/bytes, not base64)."""

    ca_crt: bytes
    user_crt: bytes
    user_key: bytes
    user_p12: bytes
    user_password: str

    def secret_data(self) -> dict[str, str]:
        """The `data` of the KafkaUser Secret (base64 values), keys as Strimzi names them."""
        return _b64(
            {
                "ca.crt": self.ca_crt,
                "user.crt": self.user_crt,
                "user.key": self.user_key,
                "user.p12": self.user_p12,
                "user.password": self.user_password.encode(),
            }
        )


class ClusterCA:
    """A CA stored in `directory` (ca.crt, ca.key, ca.p12, ca.password): loaded if there, created if not."""

    def __init__(self, directory: Path, common_name: str = "kafkalab-hermetic-ca") -> None:
        self.directory = Path(directory)
        self.cert_path = self.directory / "ca.crt"
        self.key_path = self.directory / "ca.key"
        self.p12_path = self.directory / "ca.p12"
        self.password_path = self.directory / "ca.password"
        if not all(p.exists() for p in (self.cert_path, self.key_path, self.p12_path, self.password_path)):
            self._create(common_name)
        self._cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        self._key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)

    # -- what the Strimzi secrets carry ---------------------------------------------------------------

    @property
    def ca_crt(self) -> bytes:
        """The CA certificate, PEM."""
        return self.cert_path.read_bytes()

    @property
    def ca_p12(self) -> bytes:
        """A PKCS12 truststore holding the CA certificate (a Java client's `ssl.truststore.location`)."""
        return self.p12_path.read_bytes()

    @property
    def ca_password(self) -> str:
        """The password of `ca_p12`."""
        return self.password_path.read_text().strip()

    def secret_data(self) -> dict[str, str]:
        """The `data` of `<cluster>-cluster-ca-cert` / `<cluster>-clients-ca-cert` (base64 values)."""
        return _b64({"ca.crt": self.ca_crt, "ca.p12": self.ca_p12, "ca.password": self.ca_password.encode()})

    # -- issuing --------------------------------------------------------------------------------------

    def server_cert(self, name: str, hosts: tuple[str, ...] | list[str] = ()) -> tuple[Path, Path]:
        """A server certificate for `hosts` (DNS names or IPs, plus DEFAULT_HOSTS), as two PEM files.

        Returns (cert_path, key_path) under `<directory>/servers/`; the cert file holds the leaf then the CA
        (the chain a broker presents). An existing certificate for the same hosts is reused.
        """
        wanted = sorted(set(DEFAULT_HOSTS) | set(hosts))
        out = self.directory / "servers"
        cert_path, key_path = out / f"{name}.crt", out / f"{name}.key"
        if cert_path.exists() and key_path.exists() and _sans(cert_path) == wanted:
            return cert_path, key_path
        key = _new_key()
        san = [_general_name(h) for h in wanted]
        cert = self._sign(
            _name(name),
            key,
            [
                (x509.SubjectAlternativeName(san), False),
                (
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                    False,
                ),
            ],
        )
        out.mkdir(parents=True, exist_ok=True)
        _write(key_path, _pem_key(key), private=True)
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM) + self.ca_crt)
        return cert_path, key_path

    def client_cert(self, common_name: str) -> ClientCert:
        """A client certificate with subject `CN=<common_name>` and nothing else, as Strimzi issues them:
        Kafka sees the principal `User:CN=<common_name>`, the name KafkaUser ACLs for tls users use."""
        key = _new_key()
        cert = self._sign(
            _cn(common_name), key, [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)]
        )
        password = secrets.token_urlsafe(24)
        p12 = pkcs12.serialize_key_and_certificates(
            common_name.encode(),
            key,
            cert,
            [self._cert],
            serialization.BestAvailableEncryption(password.encode()),
        )
        return ClientCert(
            ca_crt=self.ca_crt,
            user_crt=cert.public_bytes(serialization.Encoding.PEM),
            user_key=_pem_key(key),
            user_p12=p12,
            user_password=password,
        )

    # -- internals ------------------------------------------------------------------------------------

    def _create(self, common_name: str) -> None:
        key = _new_key()
        subject = _name(common_name)
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        password = secrets.token_urlsafe(24)
        # A Java truststore (trusted-certificate entry), which is what Strimzi's ca.p12 is.
        truststore = pkcs12.serialize_java_truststore(
            [pkcs12.PKCS12Certificate(cert, b"ca.crt")],
            serialization.BestAvailableEncryption(password.encode()),
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.directory / "servers", ignore_errors=True)  # signed by a CA that is gone
        _write(self.key_path, _pem_key(key), private=True)
        _write(self.p12_path, truststore)
        _write(self.password_path, password.encode(), private=True)
        _write(self.cert_path, cert.public_bytes(serialization.Encoding.PEM))  # last: marks a complete CA

    def _sign(self, subject: x509.Name, key: rsa.RSAPrivateKey, extensions: list) -> x509.Certificate:
        now = dt.datetime.now(dt.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_leaf_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._cert.public_key()), critical=False
            )
        )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(self._key, hashes.SHA256())


def _new_key() -> rsa.RSAPrivateKey:
    # RSA rather than EC: every client stack (Java PEM keystores, OpenSSL, librdkafka) takes it.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    # Unencrypted PKCS#8: the form Kafka's PEM keystore reads without ssl.key.password.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kafkalab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _cn(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _sans(cert_path: Path) -> list[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())  # the first PEM block is the leaf
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(
        [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] + san.get_values_for_type(x509.DNSName)
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    # Write then rename, so a crash never leaves a half-written key or certificate behind.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _b64(data: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in data.items()}
