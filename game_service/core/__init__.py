"""What the game runs on, apart from the game itself: settings (``config``), the database
engine and its credentials (``db``, ``db_auth``, ``outage``), sessions and signatures
(``security``, ``session_renewal``), media storage and the CDN (``storage``, ``cdn``,
``public_url``), Facebook's APIs (``facebook``), logs, the HTTP middleware and the server.
The game (``api/``, ``repository/``, ``rules.py``, ``models.py``) builds on these."""
