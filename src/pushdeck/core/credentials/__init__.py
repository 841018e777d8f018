"""Credentials: secrets in the OS keyring, their checks against the providers, and the
forms that create them. The workspace holds only references and non-secret facts.

May import: ``common``, ``net``, ``store``, ``messages``, ``providers``.
"""
