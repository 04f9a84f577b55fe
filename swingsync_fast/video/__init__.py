"""Video in: a recorded swing or a camera, posed with MediaPipe in Python, analysed here or on a server.

``python -m swingsync_fast video FILE`` (or ``--camera N``). One module per step:
``source`` reads frames and their media time, ``poser`` runs MediaPipe Pose,
``posed`` turns a pose into the project's frame (a keypoint array, a raw
socket frame), ``local`` and ``remote`` analyse the frames, ``events`` is
what both report, ``draw`` writes the annotated video, ``report`` prints,
``run`` ties them together and ``cli`` registers the command; ``job`` poses a
whole file for the server's upload pool (``server/jobs.py``).

OpenCV and MediaPipe are the ``video`` extra; they are imported only when a
video is opened, so the rest of the package never needs them.
"""

from .source import VideoError

__all__ = ["VideoError"]
