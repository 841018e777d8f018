"""Engagement coming in: events (delivered, opened, action, dismissed, converted), their
validation against the send journal, the local collector and its HTTP endpoint.

May import: ``common``, ``net``, ``store``, ``devices``, ``messages``, ``providers``.
"""
