"""The desktop app (PySide6). Reaches network, SQL and keyring only through pushdeck.core."""
