"""Push providers: one module per provider, a shared protocol in base.py."""
