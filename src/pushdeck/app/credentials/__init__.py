"""The Apps & credentials page: apps, per-provider credential forms, checks."""
