"""A GitHub App against the sandbox: a fresh private key and a config using it."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bmmsync.config.settings import Config
from bmmsync.sandbox.server import SandboxServer
from bmmsync.sandbox.state import GITHUB_APP_ID, GITHUB_APP_INSTALLATION


def app_key(tmp_path: Path) -> Path:
    """A PEM the sandbox accepts (it checks a JWT's claims, not its signature)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


def app_config(server: SandboxServer, tmp_path: Path, app_id: int = GITHUB_APP_ID) -> Config:
    """Source `web`: org acme, as the sandbox's GitHub App installation."""
    return Config.model_validate(
        {
            "sources": [
                {
                    "name": "web",
                    "kind": "github",
                    "base_url": server.github_url,
                    "app_id": app_id,
                    "private_key_file": str(app_key(tmp_path)),
                    "installation_id": GITHUB_APP_INSTALLATION,
                    "orgs": ["acme"],
                }
            ],
            "flagging": {"write_interval": 0},
        }
    )
