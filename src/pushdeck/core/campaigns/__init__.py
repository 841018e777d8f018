"""Campaigns: the spec, the library that stores them, audiences, A/B variants,
personalization, audience hygiene, the send journal, dispatch, scheduling and the review.

Inside, from the bottom: ``spec`` and ``hygiene_rules`` (plain data), ``variants``,
``schedule_times``, ``templating``, ``library``, then audience, journal, hygiene and the
guards, then ``dispatch``, ``scheduling``, ``review``.
May import every wing below it: ``common`` … ``engagement``.
"""
