"""Network safety: which addresses a connection may reach (public ones only), and TLS.

May import: ``common``.
"""
