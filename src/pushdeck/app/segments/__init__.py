"""The segment builder: nested all/any/none groups of typed conditions, live count."""
