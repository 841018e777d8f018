"""Pushdeck's core: storage, credentials, payloads, providers, dispatch. Never imports Qt."""
