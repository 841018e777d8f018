"""The Audience page: the lazy devices table, device details, import and export."""
