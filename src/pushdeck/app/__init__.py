"""The PySide6 desktop app. Talks to network, SQL and keyring only through pushdeck.core."""

from pushdeck.app._compat import make_none_immortal

make_none_immortal()
