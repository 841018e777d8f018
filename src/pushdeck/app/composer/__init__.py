"""The composer: a form over every Message field, with undo, live payloads and previews."""
