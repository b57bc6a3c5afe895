"""The dashboard at `/_stratus/`: a page of charts, logs and an invoke form, behind its own login.

`auth` owns the sessions, `series` turns stored minutes into chart series (pure), `api` answers
the page's JSON requests, and `pages` registers the routes and serves the static files.
"""
