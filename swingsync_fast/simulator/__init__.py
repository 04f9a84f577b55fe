"""A kinematic golfer filmed by a phone: whole sessions of golf swings as MediaPipe Pose landmarks, with truth.

- ``golfer``: the body and its motion (forward kinematics, keyframed tracks), in the golfer frame;
- ``camera``: where the camera stands and MediaPipe's image and world conventions;
- ``occlusion``: which landmarks the body hides from the camera;
- ``tracker``: how MediaPipe gets landmarks wrong (jitter, stretched z, hidden guesses, bad frames);
- ``simple_errors``: the original isotropic noise and random occlusions;
- ``session``: ``simulate``, which puts them together.
"""

from .camera import CAMERA_VIEWS
from .golfer import DEFAULT_SHOULDER_TURN_DEG, SwingSpec, SwingTruth, random_swing_spec
from .session import AUTO, SimulatedStream, simulate
from .tracker import PoseErrors

__all__ = [
    "AUTO",
    "CAMERA_VIEWS",
    "DEFAULT_SHOULDER_TURN_DEG",
    "PoseErrors",
    "SimulatedStream",
    "SwingSpec",
    "SwingTruth",
    "random_swing_spec",
    "simulate",
]
