"""The grading seed: secret by default, recorded so that a grade can be reproduced.

The cases a function is graded on are drawn from a seed. A seed a student can know (seed 0, the
old default) lets a submission that only replays recorded answers score full marks, so the
commands never use a known one unless told to (``--seed S``):

* ``gradref grade`` draws a fresh seed per run (:func:`draw_seed`), or derives it from an
  instructor's secret (``--secret-file``: :func:`seed_for`); the Gradescope bundle carries a
  secret of its own (``secret.txt``, made when the bundle is built);
* ``grade-all`` derives each student's seed from the class secret ``<out stem>_secret.txt``
  beside the gradebook, made (mode 0600) on the first run, so resuming and regrading give the
  same cases while nobody without the secret can know them.

A derived seed is ``HMAC-SHA256(secret, sha256 of the submission)``: another submission (a
lookup table, say) gets other cases; the same one, the same cases. Every report records the seed
it was graded with (JSON ``seed``, and a line of the summary), so ``--seed S`` reproduces it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

__all__ = ["SEED_BITS", "SECRET_BYTES", "draw_seed", "new_secret", "read_secret", "ensure_secret",
           "seed_for", "secret_digest", "seed_line"]

#: Bits of a drawn or derived seed.
SEED_BITS = 48
#: Random bytes of a new secret (written as hex).
SECRET_BYTES = 32
_MIN_SECRET_CHARS = 16


def draw_seed() -> int:
    """A fresh seed from the operating system's random source."""
    return secrets.randbits(SEED_BITS)


def new_secret() -> str:
    """A new instructor's secret (hex text)."""
    return secrets.token_hex(SECRET_BYTES)


def read_secret(path: str | os.PathLike) -> str:
    """The secret in the file ``path`` (its text, stripped); ``ValueError`` naming the file when
    it cannot be read or is shorter than 16 characters."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"secret file {str(path)!r} cannot be read: {exc}") from None
    if len(text) < _MIN_SECRET_CHARS:
        raise ValueError(f"secret file {str(path)!r} holds {len(text)} characters; a secret has "
                         f"at least {_MIN_SECRET_CHARS}")
    return text


def ensure_secret(path: str | os.PathLike) -> tuple[str, bool]:
    """``(secret, created)``: the secret in ``path``, made (mode 0600, never replaced) when the
    file does not exist yet."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_secret(path), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(new_secret() + "\n")
    return read_secret(path), True


def seed_for(secret: str, sha256: str) -> int:
    """The seed of the submission whose content hash is ``sha256`` under ``secret``."""
    mac = hmac.new(secret.encode("utf-8"), sha256.encode("ascii"), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> (64 - SEED_BITS)


def secret_digest(secret: str) -> str:
    """A short fingerprint of ``secret`` for records (which secret, never the secret)."""
    return hashlib.sha256(b"gradref secret\0" + secret.encode("utf-8")).hexdigest()[:16]


def seed_line(seed: int, how: str) -> str:
    """The report's line saying which seed graded it and how to grade the same cases again."""
    return f"Cases drawn with seed {seed} ({how}); --seed {seed} grades the same cases again."
