"""SMTP servers on loopback for tfpilot's email tests, started by scripts/test.

Four servers, each on a free port:
- starttls: requires STARTTLS, then AUTH, then accepts; each message lands in OUT/mail/ as
  one JSON file (envelope, headers, decoded text parts);
- implicit: the same behind implicit TLS (smtps);
- refusing: plain; refuses every message at DATA with a permanent 554;
- dropping: plain; takes the message, then closes the connection without an answer.

The TLS servers use a certificate signed by a throwaway CA (OUT/ca.pem). When every server
listens, OUT/servers.json names their ports, the CA file and the credentials.
"""

import asyncio
import email
import email.policy
import json
import pathlib
import ssl
import subprocess
import sys
import socket
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "tfpilot-test"
PASSWORD = "smtp-test-password-not-secret"


def make_certificates(out: pathlib.Path) -> None:
    """A CA and a server certificate for 127.0.0.1 and localhost, with openssl."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=tfpilot test CA", "-keyout", str(out / "ca.key"),
            "-out", str(out / "ca.pem"),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(out / "server.key"), "-out", str(out / "server.csr"))
    (out / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", str(out / "server.csr"), "-CA", str(out / "ca.pem"),
            "-CAkey", str(out / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(out / "server.ext"), "-out", str(out / "server.pem"))


class Keep:
    """Writes each accepted message to a JSON file of its own: the envelope, the headers
    and each text part decoded, so that tests need no MIME parser."""

    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts[part.get_content_type()] = part.get_content()
        kept = {
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "authenticated": session.authenticated,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "content_type": message.get_content_type(),
            "parts": parts,
        }
        name = f"{time.time_ns()}-{self.count}.json"
        partial = self.directory / (name + ".part")
        partial.write_text(json.dumps(kept))
        partial.rename(self.directory / name)
        return "250 2.0.0 OK: kept"


class Refuse:
    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 Message refused by policy (tfpilot test server)"


def authenticate(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
            and auth_data.password == PASSWORD.encode():
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


async def dropping_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Speaks SMTP up to the message's end, then hangs up instead of answering."""
    writer.write(b"220 dropping.test ESMTP\r\n")
    await writer.drain()
    in_data = False
    while line := await reader.readline():
        if in_data:
            if line == b".\r\n":
                break
            continue
        command = line.decode(errors="replace").strip().upper()
        if command.startswith("EHLO"):
            writer.write(b"250-dropping.test\r\n250 8BITMIME\r\n")
        elif command.startswith("DATA"):
            writer.write(b"354 go ahead\r\n")
            in_data = True
        elif command.startswith("QUIT"):
            writer.write(b"221 bye\r\n")
            break
        else:
            writer.write(b"250 OK\r\n")
        await writer.drain()
    writer.close()


def free_port() -> int:
    # aiosmtpd connects to its own port to see it listening, so it cannot take port 0.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    out = pathlib.Path(sys.argv[1])
    mail = out / "mail"
    mail.mkdir(parents=True, exist_ok=True)
    make_certificates(out)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(out / "server.pem", out / "server.key")

    # The implicit-TLS server takes AUTH on a connection that is TLS from its first byte.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    keep = Keep(mail)
    common = dict(hostname="127.0.0.1", authenticator=authenticate, auth_required=True)
    starttls = Controller(keep, port=free_port(), tls_context=tls, require_starttls=True,
                          **common)
    implicit = Controller(keep, port=free_port(), ssl_context=tls, auth_require_tls=False,
                          **common)
    refusing = Controller(Refuse(), hostname="127.0.0.1", port=free_port())
    controllers = [starttls, implicit, refusing]
    for controller in controllers:
        controller.start()

    loop = asyncio.new_event_loop()
    dropping = loop.run_until_complete(
        asyncio.start_server(dropping_session, "127.0.0.1", 0))
    servers = {
        "starttls": starttls.port,
        "implicit": implicit.port,
        "refusing": refusing.port,
        "dropping": dropping.sockets[0].getsockname()[1],
        "ca_file": str(out / "ca.pem"),
        "mail_dir": str(mail),
        "user": USER,
        "password": PASSWORD,
    }
    ready = out / "servers.json.part"
    ready.write_text(json.dumps(servers))
    ready.rename(out / "servers.json")
    try:
        loop.run_forever()
    finally:
        for controller in controllers:
            controller.stop()


if __name__ == "__main__":
    main()
