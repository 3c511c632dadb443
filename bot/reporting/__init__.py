"""The incident report: computed from the log, rendered from templates."""
