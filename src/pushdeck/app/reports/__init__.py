"""The Reports page: campaign dashboard, A/B panel, across-campaigns view, exports."""
