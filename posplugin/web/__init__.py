"""The store's HTTP face (the only place Flask is imported): the app factory,
endpoint plumbing, routes, live stream, pages, CORS, OpenAPI, rate limit,
metrics and the WSGI server."""
