"""The Audit page: who did what on a shared workspace."""
