"""Head office's HTTP face: the app factory, the routes for stores and
administrators (api), the customer's side (join, me), and their schemas.
Built on the plumbing both services share (posplugin.web)."""
