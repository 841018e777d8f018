"""The Campaigns page: list, review, test sends, sending with live progress."""
