# cython: language_level=3
"""Per-frame maths: keypoints -> body points -> address reference -> KPIs."""

from libc.math cimport sqrt, sin, atan2, fabs, isfinite, NAN, M_PI
from .body cimport (Body, Grip, WORLD_Y_UP, MEDIAPIPE_WORLD, MEDIAPIPE_IMAGE, HEAD,
                    LEAD_SHOULDER, TRAIL_SHOULDER, LEAD_ELBOW, TRAIL_ELBOW, LEAD_WRIST, TRAIL_WRIST,
                    LEAD_INDEX, LEAD_HIP, TRAIL_HIP, LEAD_KNEE, TRAIL_KNEE, LEAD_ANKLE, TRAIL_ANKLE,
                    NUM_POINTS, SHOULDER_TURN, HIP_TURN, X_FACTOR, SPINE_TILT, SIDE_BEND,
                    LEAD_ELBOW_ANGLE, TRAIL_ELBOW_ANGLE, LEAD_KNEE_ANGLE, TRAIL_KNEE_ANGLE, HEAD_SWAY,
                    HEAD_LIFT, PELVIS_SWAY, PELVIS_THRUST, WRIST_HINGE, HAND_HEIGHT, HAND_SPEED,
                    WEIGHT_SHIFT, NUM_KPIS)
from .camera cimport Camera, VIEW_NONE, camera_fit, camera_for_world, camera_turn
from .geometry cimport dot3, norm3, sub3, mid3, angle_at, wrap_degrees, degrees

from . import tuning

cdef double IMAGE_TORSO_METRES = tuning.IMAGE_TORSO_METRES
cdef double MAX_ABS_COORD = tuning.MAX_ABS_COORD
cdef double GRIP_TOGETHER = tuning.GRIP_TOGETHER
cdef double GRIP_ANCHOR_SWITCH = tuning.GRIP_ANCHOR_SWITCH
cdef double GRIP_SEEN = tuning.GRIP_SEEN
cdef double HANDEDNESS_DEPTH = tuning.HANDEDNESS_DEPTH
cdef double MIN_VIEW_COS = 0.1  # a view measures along an axis it sees at least this well
cdef double SIN_BEND = sin(tuning.SIDE_BEND_PRIOR_DEG * M_PI / 180.0)  # the address side bend the fit assumes

# MediaPipe indices of each Point for a right-handed golfer (lead = left side); HEAD is
# the mean of the face landmarks 0..10 instead.
cdef int[14] LEFT_LEAD_INDEX = [0, 11, 12, 13, 14, 15, 16, 19, 23, 24, 25, 26, 27, 28]
cdef int[14] RIGHT_LEAD_INDEX = [0, 12, 11, 14, 13, 16, 15, 20, 24, 23, 26, 25, 28, 27]
cdef int FACE_LANDMARKS = 11


cdef inline bint _finite_point(double x, double y, double z, double v) noexcept nogil:
    return (isfinite(x) and isfinite(y) and isfinite(z) and isfinite(v) and fabs(x) < MAX_ABS_COORD
            and fabs(y) < MAX_ABS_COORD and fabs(z) < MAX_ABS_COORD)


cdef inline double _length(const double* d, bint planar) noexcept nogil:
    """A length: in the picture for image landmarks, whose depth has no scale of its own."""
    if planar:
        return sqrt(d[0] * d[0] + d[1] * d[1])
    return norm3(d)


cdef void grip_reset(Grip* grip) noexcept nogil:
    grip.offset[0] = 0.0
    grip.offset[1] = 0.0
    grip.offset[2] = 0.0
    grip.learnt = False
    grip.anchor = -1


cdef bint read_body(const float[:, ::1] kp, int convention, double aspect, bint lead_is_left,
                    double min_visibility, double hands_floor, double grip_alpha, Grip* grip,
                    Body* out) noexcept nogil:
    """Convert one frame to y-up coordinates; return whether the core is usable.

    The core is both shoulders, both hips and at least one wrist, with a
    torso and shoulder line of non-zero length. The grip is placed from the
    better-seen wrist (the anchor) plus half the learnt trail-minus-lead
    offset; the offset learns, with ``grip_alpha``, only from frames whose
    wrists are seen close together, because a hidden wrist is a guess.
    With no wrist seen, the surer guess still places the grip if its
    visibility reaches ``hands_floor`` (``min_visibility``: never).
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
    cdef bint planar = convention == MEDIAPIPE_IMAGE
    out.planar = planar
    cdef int i, j, k
    cdef double x, y, z, v, hx = 0.0, hy = 0.0, hz = 0.0, hv = 0.0
    cdef bint head_ok = True
    for j in range(FACE_LANDMARKS):
        x = kp[j, 0]
        y = kp[j, 1]
        z = kp[j, 2]
        v = kp[j, 3]
        head_ok = head_ok and _finite_point(x, y, z, v)
        hx += x
        hy += y
        hz += z
        hv += v
    out.p[HEAD][0] = sx * hx / FACE_LANDMARKS
    out.p[HEAD][1] = sy * hy / FACE_LANDMARKS
    out.p[HEAD][2] = sz * hz / FACE_LANDMARKS
    out.vis[HEAD] = hv / FACE_LANDMARKS
    out.ok[HEAD] = head_ok and out.vis[HEAD] >= min_visibility
    for i in range(1, NUM_POINTS):
        j = index[i]
        x = kp[j, 0]
        y = kp[j, 1]
        z = kp[j, 2]
        v = kp[j, 3]
        out.ok[i] = _finite_point(x, y, z, v) and v >= min_visibility
        out.vis[i] = v
        out.p[i][0] = sx * x
        out.p[i][1] = sy * y
        out.p[i][2] = sz * z
    if not (out.ok[LEAD_SHOULDER] and out.ok[TRAIL_SHOULDER] and out.ok[LEAD_HIP]
            and out.ok[TRAIL_HIP]):
        return False
    mid3(out.p[LEAD_SHOULDER], out.p[TRAIL_SHOULDER], out.shoulder_mid)
    mid3(out.p[LEAD_HIP], out.p[TRAIL_HIP], out.hip_mid)
    cdef double d[3]
    sub3(out.shoulder_mid, out.hip_mid, d)
    out.torso = _length(d, planar)
    sub3(out.p[LEAD_SHOULDER], out.p[TRAIL_SHOULDER], d)
    # in depth too: down-the-line the shoulder line can be seen end-on
    if out.torso < 1e-6 or _length(d, False) < 1e-6:
        return False
    cdef bint lead_ok = out.ok[LEAD_WRIST], trail_ok = out.ok[TRAIL_WRIST]
    cdef double half
    if not (lead_ok or trail_ok):
        # at address MediaPipe sees the hands on the grip as one blob and is unsure of both
        # wrists (real face-on: lead 0.35-0.77, trail 0.16-0.62); its surer guess still holds
        j = LEAD_WRIST if out.vis[LEAD_WRIST] >= out.vis[TRAIL_WRIST] else TRAIL_WRIST
        i = index[j]
        if not (out.vis[j] >= hands_floor and _finite_point(kp[i, 0], kp[i, 1], kp[i, 2], kp[i, 3])):
            return False
        half = 0.5 if j == LEAD_WRIST else -0.5
        for k in range(3):
            out.hands[k] = out.p[j][k] + half * grip.offset[k]
        return True
    cdef bint both_seen = False
    if lead_ok and trail_ok:
        sub3(out.p[TRAIL_WRIST], out.p[LEAD_WRIST], d)
        if _length(d, planar) <= GRIP_TOGETHER * out.torso:
            both_seen = out.vis[LEAD_WRIST] >= GRIP_SEEN and out.vis[TRAIL_WRIST] >= GRIP_SEEN
            if not grip.learnt:
                grip_alpha = 1.0
                grip.learnt = True
            for k in range(3):
                grip.offset[k] += grip_alpha * (d[k] - grip.offset[k])
    cdef int anchor = grip.anchor
    if anchor < 0 or not out.ok[anchor]:
        anchor = LEAD_WRIST if lead_ok and (not trail_ok or out.vis[LEAD_WRIST] >= out.vis[TRAIL_WRIST]) \
            else TRAIL_WRIST
    elif lead_ok and trail_ok:
        j = TRAIL_WRIST if anchor == LEAD_WRIST else LEAD_WRIST
        if out.vis[j] > out.vis[anchor] + GRIP_ANCHOR_SWITCH:
            anchor = j
    grip.anchor = anchor
    half = 0.5 if anchor == LEAD_WRIST else -0.5
    if both_seen:
        # two clearly seen wrists on one grip: their midpoint halves the jitter
        for k in range(3):
            out.hands[k] = 0.5 * (out.p[LEAD_WRIST][k] + out.p[TRAIL_WRIST][k])
        return True
    for k in range(3):
        out.hands[k] = out.p[anchor][k] + half * grip.offset[k]
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


cdef bint other_hand(const Body* b) noexcept nogil:
    """Whether an address in image landmarks is the other hand's (tuning.HANDEDNESS_DEPTH)."""
    cdef double s = b.p[LEAD_SHOULDER][2] - b.p[TRAIL_SHOULDER][2]   # y-up: larger z is nearer
    cdef double h = b.p[LEAD_HIP][2] - b.p[TRAIL_HIP][2]
    return s > HANDEDNESS_DEPTH * b.torso and h > 0.5 * HANDEDNESS_DEPTH * b.torso


cdef void swap_sides(Body* b) noexcept nogil:
    """The same body read the other way round: lead and trail exchanged. The trail index finger
    is never read, so the lead one is lost."""
    cdef int[6] leads = [LEAD_SHOULDER, LEAD_ELBOW, LEAD_WRIST, LEAD_HIP, LEAD_KNEE, LEAD_ANKLE]
    cdef int i, lead, k   # each trail point follows its lead one (body.pxd)
    cdef double x
    cdef bint ok
    for i in range(6):
        lead = leads[i]
        for k in range(3):
            x = b.p[lead][k]
            b.p[lead][k] = b.p[lead + 1][k]
            b.p[lead + 1][k] = x
        ok = b.ok[lead]
        b.ok[lead] = b.ok[lead + 1]
        b.ok[lead + 1] = ok
        x = b.vis[lead]
        b.vis[lead] = b.vis[lead + 1]
        b.vis[lead + 1] = x
    for k in range(3):
        b.p[LEAD_INDEX][k] = NAN
    b.ok[LEAD_INDEX] = False
    b.vis[LEAD_INDEX] = 0.0


cdef bint make_reference(Body* body, bint right_handed, int convention, Reference* out) noexcept nogil:
    """Axes of the address pose; False when 3-D input gives no target line.

    The target line is the mean horizontal direction of the ankle, hip and
    shoulder lines, which are near parallel at address; the ball lies to the
    golfer's front, which handedness fixes as a cross product with up. Image
    landmarks have no horizontal plane to find it in: their camera
    (fit_camera) places the target instead, and is left as it is here.
    """
    out.body = body[0]
    # the lead foot stays flat longest (the trail heel rises in the downswing); down-the-line
    # it can hide behind the trail leg
    out.foot = LEAD_ANKLE if body.ok[LEAD_ANKLE] else (TRAIL_ANKLE if body.ok[TRAIL_ANKLE] else -1)
    if convention == MEDIAPIPE_IMAGE:
        return True
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
    out.metres_per_unit = 1.0
    return True


cdef bint fit_camera(Reference* ref, int convention, int forced_view) noexcept nogil:
    """Settle the camera (and with image landmarks the metre scale) from the address pose."""
    if convention == MEDIAPIPE_IMAGE:
        if not camera_fit(&ref.body, forced_view, &ref.camera):
            return False
        ref.metres_per_unit = IMAGE_TORSO_METRES / ref.camera.torso
        return True
    # world landmarks are camera-aligned, so their target line tells the camera's angle
    camera_for_world(ref.target, &ref.camera)
    if convention == WORLD_Y_UP:
        ref.camera.view = VIEW_NONE   # a 3-D capture: no camera to speak of
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
        acc.vis[i] = b.vis[i]
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
    cdef double d[3]
    sub3(acc.shoulder_mid, acc.hip_mid, d)
    acc.torso = _length(d, acc.planar)


cdef inline double _joint(const Body* b, int a, int j, int c) noexcept nogil:
    """Joint angle at ``j``; in the picture for image landmarks (their depth has no scale)."""
    cdef double pa[3]
    cdef double pj[3]
    cdef double pc[3]
    cdef int k
    if not (b.ok[a] and b.ok[j] and b.ok[c]):
        return NAN
    if not b.planar:
        return angle_at(b.p[a], b.p[j], b.p[c])
    for k in range(2):
        pa[k] = b.p[a][k]
        pj[k] = b.p[j][k]
        pc[k] = b.p[c][k]
    pa[2] = 0.0
    pj[2] = 0.0
    pc[2] = 0.0
    return angle_at(pa, pj, pc)


cdef inline void _travel(const Body* b, const Body* a, int foot, const double* now,
                         const double* then, double* out) noexcept nogil:
    """How far a point moved since address, relative to a planted foot."""
    cdef int k
    for k in range(3):
        out[k] = (now[k] - b.p[foot][k]) - (then[k] - a.p[foot][k])


cdef double shoulder_turn(const Body* b, const Reference* ref, bint right_handed,
                         int convention) noexcept nogil:
    """The shoulder turn alone (the phase machine's cue that a takeaway has begun)."""
    cdef double now[3]
    cdef double then[3]
    if convention != MEDIAPIPE_IMAGE:
        return wrap_degrees(degrees(_line_angle(b, LEAD_SHOULDER, TRAIL_SHOULDER, ref) - ref.shoulder_angle))
    sub3(b.p[LEAD_SHOULDER], b.p[TRAIL_SHOULDER], now)
    sub3(ref.body.p[LEAD_SHOULDER], ref.body.p[TRAIL_SHOULDER], then)
    return camera_turn(&ref.camera, now, then, ref.camera.shoulder_width, True,
                       1.0 if right_handed else -1.0)


cdef void compute_kpis(const Body* b, const Reference* ref, bint has_ref, double hand_speed,
                       bint right_handed, int convention, double* out) noexcept nogil:
    """All KPIs of one usable frame, NaN where a landmark, the address or the view does not allow.

    Image landmarks are read through the address's camera: only what its view
    measures is reported (camera.measured), and nothing before an address.
    """
    cdef int i
    for i in range(NUM_KPIS):
        out[i] = NAN
    if convention == MEDIAPIPE_IMAGE and not has_ref:
        return
    out[LEAD_ELBOW_ANGLE] = _joint(b, LEAD_SHOULDER, LEAD_ELBOW, LEAD_WRIST)
    out[TRAIL_ELBOW_ANGLE] = _joint(b, TRAIL_SHOULDER, TRAIL_ELBOW, TRAIL_WRIST)
    out[LEAD_KNEE_ANGLE] = _joint(b, LEAD_HIP, LEAD_KNEE, LEAD_ANKLE)
    out[TRAIL_KNEE_ANGLE] = _joint(b, TRAIL_HIP, TRAIL_KNEE, TRAIL_ANKLE)
    out[WRIST_HINGE] = 180.0 - _joint(b, LEAD_ELBOW, LEAD_WRIST, LEAD_INDEX)
    out[HAND_SPEED] = hand_speed
    if not has_ref:
        return
    if convention == MEDIAPIPE_IMAGE:
        _image_kpis(b, ref, right_handed, out)
        for i in range(NUM_KPIS):
            if not (ref.camera.measured >> i) & 1:
                out[i] = NAN
    else:
        _world_kpis(b, ref, out)


cdef void _world_kpis(const Body* b, const Reference* ref, double* out) noexcept nogil:
    """KPIs against the address of 3-D input: every axis is seen."""
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

    # Travel is measured from a foot, which stays planted until after impact.
    cdef int foot = ref.foot
    if foot < 0 or not b.ok[foot]:
        return
    if b.ok[HEAD] and a.ok[HEAD]:
        _travel(b, a, foot, b.p[HEAD], a.p[HEAD], d)
        out[HEAD_SWAY] = -dot3(d, ref.target) * m
        out[HEAD_LIFT] = d[1] * m
    _travel(b, a, foot, b.hip_mid, a.hip_mid, d)
    out[PELVIS_SWAY] = -dot3(d, ref.target) * m
    out[PELVIS_THRUST] = dot3(d, ref.ball) * m
    _travel(b, a, foot, b.hands, a.hands, d)
    out[HAND_HEIGHT] = d[1] * m

    cdef double stance
    if not (b.ok[LEAD_ANKLE] and b.ok[TRAIL_ANKLE]):
        return
    sub3(b.p[LEAD_ANKLE], b.p[TRAIL_ANKLE], d)
    stance = dot3(d, ref.target)
    if fabs(stance) > 1e-6:
        sub3(b.hip_mid, b.p[TRAIL_ANKLE], d)
        out[WEIGHT_SHIFT] = 2.0 * dot3(d, ref.target) / stance - 1.0


cdef void _image_kpis(const Body* b, const Reference* ref, bint right_handed, double* out) noexcept nogil:
    """KPIs against the address of image landmarks, each along the axis the camera sees it.

    The picture's horizontal carries the target line by cos(angle) and the
    ball line by sin(angle); a view measures along an axis only where
    camera.measured says so, so the divisions below stay well away from zero
    for what is reported.
    """
    cdef const Body* a = &ref.body
    cdef const Camera* cam = &ref.camera
    cdef double m = ref.metres_per_unit
    cdef double handed = 1.0 if right_handed else -1.0
    cdef double now[3]
    cdef double then[3]
    cdef double d[3]
    cdef double along_target = cam.target_x * cam.cos_a
    cdef double along_ball = cam.ball_x * cam.sin_a
    if fabs(along_target) < MIN_VIEW_COS:
        along_target = NAN
    if fabs(along_ball) < MIN_VIEW_COS:
        along_ball = NAN
    sub3(b.p[LEAD_SHOULDER], b.p[TRAIL_SHOULDER], now)
    sub3(a.p[LEAD_SHOULDER], a.p[TRAIL_SHOULDER], then)
    cdef double shoulder = camera_turn(cam, now, then, cam.shoulder_width, True, handed)
    sub3(b.p[LEAD_HIP], b.p[TRAIL_HIP], now)
    sub3(a.p[LEAD_HIP], a.p[TRAIL_HIP], then)
    cdef double hip = camera_turn(cam, now, then, cam.hip_width, False, handed)
    out[SHOULDER_TURN] = shoulder
    out[HIP_TURN] = hip
    out[X_FACTOR] = shoulder - hip

    # The spine's lean in the picture mixes its tilt toward the ball and its
    # bend away from the target; each is read with the other at its address value.
    sub3(b.shoulder_mid, b.hip_mid, d)
    cdef double bend_leak = cam.target_x * cam.cos_a * SIN_BEND / cam.cos_t * d[1]
    cdef double tilt_leak = cam.ball_x * cam.sin_a * cam.sin_t / cam.cos_t * d[1]
    out[SPINE_TILT] = degrees(atan2((d[0] + bend_leak) / along_ball, d[1]))
    out[SIDE_BEND] = degrees(atan2(-(d[0] - tilt_leak) / along_target, d[1]))

    cdef int foot = ref.foot
    if foot < 0 or not b.ok[foot]:
        return
    if b.ok[HEAD] and a.ok[HEAD]:
        _travel(b, a, foot, b.p[HEAD], a.p[HEAD], d)
        out[HEAD_SWAY] = -d[0] / along_target * m
        out[HEAD_LIFT] = d[1] * m
    _travel(b, a, foot, b.hip_mid, a.hip_mid, d)
    out[PELVIS_SWAY] = -d[0] / along_target * m
    out[PELVIS_THRUST] = d[0] / along_ball * m
    _travel(b, a, foot, b.hands, a.hands, d)
    out[HAND_HEIGHT] = d[1] * m

    if not (b.ok[LEAD_ANKLE] and b.ok[TRAIL_ANKLE]):
        return
    cdef double stance = (b.p[LEAD_ANKLE][0] - b.p[TRAIL_ANKLE][0]) / along_target
    if fabs(stance) > 1e-6:
        out[WEIGHT_SHIFT] = 2.0 * (b.hip_mid[0] - b.p[TRAIL_ANKLE][0]) / along_target / stance - 1.0
