"""Every message schema the server speaks, msgspec Structs only: ``stream`` (the main socket and what
all sockets share), ``coaching``, ``monitor``, ``rest`` (bodies), ``figures`` (stats) and ``bus``
(between server processes). Leaves: nothing here imports the rest of the server.
"""

# The raw frame format, read from here by swingsync_fast.replay.
from .stream import RAW_HEADER, RAW_MAGIC

__all__ = ["RAW_HEADER", "RAW_MAGIC"]
