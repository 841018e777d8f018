"""A team on a shared (PostgreSQL) workspace: members, their roles, the audit log.

Each member logs in as their own PostgreSQL role; the rights are the database's
(GRANTs, triggers, SECURITY DEFINER functions: store/team_schema_pg.py), so psql can do
no more than the app. This wing is the vocabulary and the checks on the way in; the
campaign approval that uses it is ``campaigns.approval``. On a workspace file nothing
changes: one local user with every right.
"""
