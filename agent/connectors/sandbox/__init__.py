"""What every CRM sandbox shares, one module per part (each sandbox subclasses or calls them; see their
docstrings). Each CRM's ``<crm>/sandbox/`` package keeps only its own routes, state, seed and hooks.

- :mod:`.app`: ``sandbox_app`` (the Starlette app of a sandbox), ``bundle_of`` (a handler's sandbox bundle);
- :mod:`.serve`: ``serve_app``, ``serve_in_thread`` / ``RunningServer``, ``SeededSandbox`` (a seeded sandbox's
  ``serve`` and command line), ``argument_parser``;
- :mod:`.clock`: ``ManualClock`` (a clock tests move), ``system_clock`` (epoch ms);
- :mod:`.faults`: ``FaultSwitches`` (a dataclass to subclass), ``ScriptedFault``, ``DROP_CONNECTION``;
- :mod:`.middleware`: ``SandboxMiddleware`` (subclass, override the hooks), ``Call``, ``ConnectionDropped``;
- :mod:`.oauth`: ``TokenBook`` (apps, refresh tokens, access tokens), ``Grant``, ``AccessToken``;
- :mod:`.counters`: ``RequestCounters`` (mixin of the state), ``LoggedRequest``;
- :mod:`.admin`: ``admin_routes`` (``/__sandbox/faults|stats|clock``), ``apply_oauth_switches``.
"""
