"""Work that should not run inside a player's request, divided off to a worker through a
queue: the request records a job and sends its id; ``python -m game_service worker`` does it
(``worker.py``), at least once and with the same effect however often (``handlers.py``)."""

# the kinds of job (a row's ``kind``; handlers.HANDLERS maps each to its handler). Here, not in
# handlers.py, so that the server names a kind without importing what the worker runs (Pillow)
AVATAR = "avatar"
DATA_DELETION = "data_deletion"  # a Facebook data-deletion request: the uploads and CDN paths
FRIENDS_IMPORT = "friends_import"  # befriend the player's Facebook friends who play
