"""Several server processes as one: the Redis ``bus``, what the ``peers`` say, this process's
``cluster`` clock, and ``workers`` (``serve --workers``)."""
