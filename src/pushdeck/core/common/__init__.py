"""The vocabulary every wing shares: errors, the model (messages, devices, apps, results),
file paths, untrusted-text and CSV-cell rules, the event loop choice.

Imports nothing from the rest of the core.
"""
