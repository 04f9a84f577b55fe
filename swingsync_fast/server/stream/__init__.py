"""The main socket's hot path: ``endpoint`` (handshake), ``connection`` (limits, dispatch, sending),
``session`` (one session's analysis), ``codec`` (frames in, results out), ``guard`` (the message rules
both sockets share), ``limits`` and ``latency``."""
