"""What `rrt roster check` expects unless told otherwise, apart from the checker itself so that
the command line can offer them without loading it."""

KNOWN_PLATFORMS = ("slack", "matrix")  # console handles default to the person's id
DEFAULT_STALE_DAYS = 365
