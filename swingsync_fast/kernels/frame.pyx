# cython: language_level=3
"""Per-frame maths: keypoints -> body points -> address reference -> KPIs."""

from libc.math cimport sqrt, atan2, fabs, isfinite, NAN, M_PI
from .geometry cimport dot3, norm3, sub3, mid3, angle_at, wrap_degrees, degrees

from . import tuning

cdef double IMAGE_TORSO_METRES = tuning.IMAGE_TORSO_METRES
cdef double MAX_ABS_COORD = tuning.MAX_ABS_COORD

# MediaPipe indices of each Point for a right-handed golfer (lead = left side).
cdef int[14] LEFT_LEAD_INDEX = [0, 11, 12, 13, 14, 15, 16, 19, 23, 24, 25, 26, 27, 28]
cdef int[14] RIGHT_LEAD_INDEX = [0, 12, 11, 14, 13, 16, 15, 20, 24, 23, 26, 25, 28, 27]


cdef bint read_body(const float[:, ::1] kp, int convention, double aspect, bint lead_is_left,
                    double min_visibility, double* grip_offset, Body* out) noexcept nogil:
    """Convert one frame to y-up coordinates; return whether the core is usable.

    The core is both shoulders, both hips and at least one wrist, with a
    torso and shoulder line of non-zero length. ``grip_offset`` (trail wrist
    minus lead wrist) is updated from frames that see both wrists and used to
    place the grip when only one wrist is seen.
    """
    cdef const int* index = &RIGHT_LEAD_INDEX[0]
    if lead_is_left:
        index = &LEFT_LEAD_INDEX[0]
    cdef double sx = 1.0, sy = 1.0, sz = 1.0
    if convention == MEDIAPIPE_WORLD:
        sy = -1.0
        sz = -1.0
    elif convention == MEDIAPIPE_IMAGE:
        sx = aspect
        sy = -1.0
        sz = -aspect
    cdef int i, j
    cdef double x, y, z, v
    for i in range(NUM_POINTS):
        j = index[i]
        x = kp[j, 0]
        y = kp[j, 1]
        z = kp[j, 2]
        v = kp[j, 3]
        out.ok[i] = (isfinite(x) and isfinite(y) and isfinite(z) and isfinite(v)
                     and fabs(x) < MAX_ABS_COORD and fabs(y) < MAX_ABS_COORD
                     and fabs(z) < MAX_ABS_COORD and v >= min_visibility)
        out.p[i][0] = sx * x
        out.p[i][1] = sy * y
        out.p[i][2] = sz * z
    if not (out.ok[LEAD_SHOULDER] and out.ok[TRAIL_SHOULDER] and out.ok[LEAD_HIP]
            and out.ok[TRAIL_HIP]):
        return False
    mid3(out.p[LEAD_SHOULDER], out.p[TRAIL_SHOULDER], out.shoulder_mid)
    mid3(out.p[LEAD_HIP], out.p[TRAIL_HIP], out.hip_mid)
    out.feet_ok = out.ok[LEAD_ANKLE] and out.ok[TRAIL_ANKLE]
    mid3(out.p[LEAD_ANKLE], out.p[TRAIL_ANKLE], out.feet)
    cdef double d[3]
    sub3(out.shoulder_mid, out.hip_mid, d)
    out.torso = norm3(d)
    sub3(out.p[LEAD_SHOULDER], out.p[TRAIL_SHOULDER], d)
    if out.torso < 1e-6 or norm3(d) < 1e-6:
        return False
    if out.ok[LEAD_WRIST] and out.ok[TRAIL_WRIST]:
        sub3(out.p[TRAIL_WRIST], out.p[LEAD_WRIST], grip_offset)
        for i in range(3):
            out.hands[i] = out.p[LEAD_WRIST][i] + 0.5 * grip_offset[i]
    elif out.ok[LEAD_WRIST]:
        for i in range(3):
            out.hands[i] = out.p[LEAD_WRIST][i] + 0.5 * grip_offset[i]
    elif out.ok[TRAIL_WRIST]:
        for i in range(3):
            out.hands[i] = out.p[TRAIL_WRIST][i] - 0.5 * grip_offset[i]
    else:
        return False
    return True


cdef bint _add_line(const Body* b, int lead, int trail, double* acc) noexcept nogil:
    """Add the horizontal unit direction trail -> lead of one body line."""
    if not (b.ok[lead] and b.ok[trail]):
        return False
    cdef double dx = b.p[lead][0] - b.p[trail][0]
    cdef double dz = b.p[lead][2] - b.p[trail][2]
    cdef double n = sqrt(dx * dx + dz * dz)
    if n < 1e-9:
        return False
    acc[0] += dx / n
    acc[2] += dz / n
    return True


cdef bint make_reference(Body* body, bint right_handed, int convention, Reference* out) noexcept nogil:
    """Axes of the address pose; False when the stance gives no target line.

    The target line is the mean horizontal direction of the ankle, hip and
    shoulder lines, which are near parallel at address; the ball lies to the
    golfer's front, which handedness fixes as a cross product with up.
    """
    cdef double t[3]
    t[0] = 0.0
    t[1] = 0.0
    t[2] = 0.0
    _add_line(body, LEAD_ANKLE, TRAIL_ANKLE, t)
    _add_line(body, LEAD_HIP, TRAIL_HIP, t)
    _add_line(body, LEAD_SHOULDER, TRAIL_SHOULDER, t)
    cdef double n = sqrt(t[0] * t[0] + t[2] * t[2])
    if n < 1e-6:
        return False
    out.body = body[0]
    out.target[0] = t[0] / n
    out.target[1] = 0.0
    out.target[2] = t[2] / n
    # right-handed golfer: ball = target x up; left-handed: up x target.
    if right_handed:
        out.ball[0] = -out.target[2]
        out.ball[2] = out.target[0]
    else:
        out.ball[0] = out.target[2]
        out.ball[2] = -out.target[0]
    out.ball[1] = 0.0
    out.shoulder_angle = _line_angle(body, LEAD_SHOULDER, TRAIL_SHOULDER, out)
    out.hip_angle = _line_angle(body, LEAD_HIP, TRAIL_HIP, out)
    if convention == MEDIAPIPE_IMAGE:
        out.metres_per_unit = IMAGE_TORSO_METRES / body.torso
    else:
        out.metres_per_unit = 1.0
    return True


cdef inline double _line_angle(const Body* b, int lead, int trail, const Reference* ref) noexcept nogil:
    cdef double d[3]
    sub3(b.p[lead], b.p[trail], d)
    return atan2(dot3(d, ref.ball), dot3(d, ref.target))


cdef void blend_body(Body* acc, const Body* b, double alpha) noexcept nogil:
    """Move the smoothed address pose toward this frame by ``alpha``."""
    cdef int i, k
    for i in range(NUM_POINTS):
        if not b.ok[i]:
            continue
        if not acc.ok[i]:
            for k in range(3):
                acc.p[i][k] = b.p[i][k]
            acc.ok[i] = True
            continue
        for k in range(3):
            acc.p[i][k] += alpha * (b.p[i][k] - acc.p[i][k])
    for k in range(3):
        acc.hands[k] += alpha * (b.hands[k] - acc.hands[k])
    mid3(acc.p[LEAD_SHOULDER], acc.p[TRAIL_SHOULDER], acc.shoulder_mid)
    mid3(acc.p[LEAD_HIP], acc.p[TRAIL_HIP], acc.hip_mid)
    acc.feet_ok = acc.ok[LEAD_ANKLE] and acc.ok[TRAIL_ANKLE]
    mid3(acc.p[LEAD_ANKLE], acc.p[TRAIL_ANKLE], acc.feet)
    cdef double d[3]
    sub3(acc.shoulder_mid, acc.hip_mid, d)
    acc.torso = norm3(d)


cdef inline double _joint(const Body* b, int a, int j, int c) noexcept nogil:
    if b.ok[a] and b.ok[j] and b.ok[c]:
        return angle_at(b.p[a], b.p[j], b.p[c])
    return NAN


cdef void compute_kpis(const Body* b, const Reference* ref, bint has_ref, double hand_speed,
                       double* out) noexcept nogil:
    """All KPIs of one usable frame, NaN where a landmark or the address is missing."""
    cdef int i
    for i in range(NUM_KPIS):
        out[i] = NAN
    out[LEAD_ELBOW_ANGLE] = _joint(b, LEAD_SHOULDER, LEAD_ELBOW, LEAD_WRIST)
    out[TRAIL_ELBOW_ANGLE] = _joint(b, TRAIL_SHOULDER, TRAIL_ELBOW, TRAIL_WRIST)
    out[LEAD_KNEE_ANGLE] = _joint(b, LEAD_HIP, LEAD_KNEE, LEAD_ANKLE)
    out[TRAIL_KNEE_ANGLE] = _joint(b, TRAIL_HIP, TRAIL_KNEE, TRAIL_ANKLE)
    cdef double hinge = _joint(b, LEAD_ELBOW, LEAD_WRIST, LEAD_INDEX)
    out[WRIST_HINGE] = 180.0 - hinge
    out[HAND_SPEED] = hand_speed
    if not has_ref:
        return

    cdef const Body* a = &ref.body
    cdef double m = ref.metres_per_unit
    cdef double d[3]
    cdef double shoulder = wrap_degrees(degrees(_line_angle(b, LEAD_SHOULDER, TRAIL_SHOULDER, ref) - ref.shoulder_angle))
    cdef double hip = wrap_degrees(degrees(_line_angle(b, LEAD_HIP, TRAIL_HIP, ref) - ref.hip_angle))
    out[SHOULDER_TURN] = shoulder
    out[HIP_TURN] = hip
    out[X_FACTOR] = shoulder - hip

    sub3(b.shoulder_mid, b.hip_mid, d)
    out[SPINE_TILT] = degrees(atan2(dot3(d, ref.ball), d[1]))
    out[SIDE_BEND] = degrees(atan2(-dot3(d, ref.target), d[1]))

    # Travel is measured from the feet, which stay planted through a swing.
    if not (b.feet_ok and a.feet_ok):
        return
    if b.ok[NOSE] and a.ok[NOSE]:
        _travel(b, a, b.p[NOSE], a.p[NOSE], d)
        out[HEAD_SWAY] = -dot3(d, ref.target) * m
        out[HEAD_LIFT] = d[1] * m
    _travel(b, a, b.hip_mid, a.hip_mid, d)
    out[PELVIS_SWAY] = -dot3(d, ref.target) * m
    out[PELVIS_THRUST] = dot3(d, ref.ball) * m
    _travel(b, a, b.hands, a.hands, d)
    out[HAND_HEIGHT] = d[1] * m

    cdef double stance
    sub3(b.p[LEAD_ANKLE], b.p[TRAIL_ANKLE], d)
    stance = dot3(d, ref.target)
    if fabs(stance) > 1e-6:
        sub3(b.hip_mid, b.p[TRAIL_ANKLE], d)
        out[WEIGHT_SHIFT] = 2.0 * dot3(d, ref.target) / stance - 1.0


cdef inline void _travel(const Body* b, const Body* a, const double* now, const double* then,
                         double* out) noexcept nogil:
    """How far a point moved since address, relative to the feet."""
    cdef int k
    for k in range(3):
        out[k] = (now[k] - b.feet[k]) - (then[k] - a.feet[k])
