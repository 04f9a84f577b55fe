"""Where sessions are kept: ``records`` (what is stored), ``base`` (the store protocol, heartbeats),
``memory``; ``sql`` is the one SQL store, run by the ``sqlite`` and ``postgres`` drivers; ``url``
picks one from ``DATABASE_URL``."""
