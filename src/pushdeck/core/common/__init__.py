"""The vocabulary every wing shares: errors, the model (messages, devices, apps, results),
file paths and workspace locations, untrusted-text and CSV-cell rules, the event loop choice.

Imports nothing from the rest of the core.
"""
