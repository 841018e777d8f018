"""The only SQL in Pushdeck: the workspace file and small query functions."""

from pushdeck.core.store.workspace import Workspace, utcnow

__all__ = ["Workspace", "utcnow"]
