"""Pushdeck's core: everything but the windows. Never imports Qt, the app or the CLI.

One sub-package ("wing") per concern. A wing imports only wings below it in this list
(import-linter's layers contract in pyproject.toml enforces it; ``a | b`` are siblings
that may not import each other):

    demo          the demo workspace: sandbox app, simulated devices, a sent A/B campaign
    reports       analytics, attribution, A/B statistics, the dashboard and its exports
    campaigns     spec, library, audience, variants, personalization, hygiene, journal,
                  dispatch, scheduling, review, approval
    team          members, roles and the audit log of a shared (PostgreSQL) workspace
    engagement | credentials
                  events in (validation, the collector) | keyring secrets, checks, forms
    providers     APNs, FCM, Web Push (and its crypto), the sandbox, HTTP/2, route health
    messages | devices
                  message JSON form, Liquid, media, payload builders | device fields,
                  import, export, queries
    store         the only SQL: schema, migrations, one module per table family, the
                  segment rule compiler
    net           which addresses may be reached (public only), TLS contexts
    common        errors, the model, paths, workspace locations (a file or a URI), untrusted
                  text, CSV cells, the event loop
"""
