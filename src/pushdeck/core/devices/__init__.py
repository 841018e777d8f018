"""Devices: the field rules, file import (readers, rows, the staged path for big
files), export, and the queries behind the Devices page.

May import: ``common``, ``net``, ``store``.
"""
