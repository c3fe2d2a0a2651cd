"""The dashboard: a read-only web app over the store, with health and Prometheus metrics.

`create_app` (in `bmmsync.web.app`) builds the ASGI app; `aggregates` holds the figures each
full check precomputes for it. Importing this package imports neither Starlette nor uvicorn.
"""
