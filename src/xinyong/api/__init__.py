"""The HTTP API (FastAPI). Routes are thin: parse, call the service layer, return."""
