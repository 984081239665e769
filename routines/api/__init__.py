"""The business API and pages: an ASGI service (FastAPI, served by uvicorn) over the business database.

`routines.api.app.create_app()` builds it; `routines api --host --port` serves it. Importing this package is
cheap: FastAPI is imported only by `routines.api.app` and the route modules.
"""
