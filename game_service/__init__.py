"""The game service: a small social web game and its HTTP API (FastAPI, SQLAlchemy, S3)."""
