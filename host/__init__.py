"""What a game-service host runs, built together: the bootstrap script (``bootstrap.sh``),
the service bundle (``bundle.py``) and the wheelhouse of its locked dependencies
(``wheelhouse.py``). The app's patterns ship them as assets; the local topology and the
tests boot hosts from the same files. No CDK import here."""
