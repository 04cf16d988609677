"""Extension Sphinx locale du cours : rôle ``{source}`` (en cours d'écriture)."""

from __future__ import annotations


def setup(app):
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
