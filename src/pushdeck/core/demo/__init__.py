"""The demo workspace: a sandbox app, simulated devices and segments, and a sent A/B
campaign with engagement, all deterministic from a seed.

The top wing: may import any other.
"""
