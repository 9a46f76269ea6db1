"""Work that should not run inside a player's request, divided off to a worker through a
queue: the request records a job and sends its id; ``python -m game_service worker`` does it
(``worker.py``), at least once and with the same effect however often (``handlers.py``)."""
