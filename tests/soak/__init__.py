"""The soak (``make soak``, README "Soak"): a simulated week of use on a CRM's sandbox, then every invariant.

- :mod:`.world`: the sandbox served from the soak's event loop, the agent process, admin switches, /proc samples;
- :mod:`.actions`: the operations (edits, imports, to-dos, scores, syncs, restarts, kill -9, faults, quota);
- :mod:`.ledger`: every write the soak made and the value the merge rules expect of each field;
- :mod:`.checks`: the invariants on snapshots of both sides; :mod:`.runner`: one soak; ``__main__``: the CLI.
"""
