"""The sync engine: match -> merge -> plan -> apply, with cursors and per-field base values."""
