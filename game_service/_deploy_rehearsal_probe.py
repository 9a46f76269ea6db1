"""Deploy rehearsal probe: a code change."""
