"""Messages: their JSON form, the bounded Liquid environment, images (media), and the
payload builders for APNs, FCM and Web Push with their size budgets and lint.

A message here knows nothing about campaigns. May import: ``common``, ``net``.
"""
