"""The web console: server-rendered pages for people, served by the API process at /console.

It is a client of the same rules as the HTTP API, not a second implementation: every page is
a route declaring `Authorize(role, action)`, so the gate (`api.request_gate`) admits, rate-limits,
authorises and audits it exactly like an API call; the only difference is that the key comes
from the session cookie (`api.console.session`) instead of a Bearer header. Decisions and
uploads call the same functions as `POST /api/v1/reviews/{id}/decision` and
`POST /api/v1/uploads`. See docs/console.md.
"""
