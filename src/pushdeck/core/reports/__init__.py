"""Reports: the funnel analytics, attribution of conversions, A/B statistics, the
dashboard model and its CSV/HTML exports, and the campaign list.

May import every wing below it, ``campaigns`` included.
"""
