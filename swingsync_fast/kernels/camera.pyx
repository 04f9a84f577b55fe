# cython: language_level=3
"""The camera a swing is filmed with, and what it lets image landmarks measure.

MediaPipe's image landmarks are a 2-D picture plus a depth on a stretched,
drifting scale. What can be read from them depends on where the camera
stands, so at address (once per swing) the camera's angle is fitted from the
picture: the shoulder and hip lines look full width face-on and shrink to
nothing down-the-line, and the torso leans toward the ball in the picture
only as far as the camera sees the spine's tilt. The fit weighs those
observations against priors on body proportions and posture (tuning.py).

With the camera known, a turned line is its address vector rotated about the
spine: ``now = cos(a) * address + sin(a) * w``, where ``w`` is the line's
backswing direction as the camera sees it. Each image axis gives one linear
equation in (cos a, sin a); MediaPipe's z counts only against its own
address value, and only where the line had depth at address. A direction no
equation sees is closed on the unit circle.
"""

from libc.math cimport sqrt, cos, sin, atan2, fabs, fmax, M_PI
from .body cimport (Body, LEAD_SHOULDER, TRAIL_SHOULDER, LEAD_HIP, TRAIL_HIP, NUM_KPIS)
from .geometry cimport degrees

from ..catalog import KPI_NAMES
from . import tuning

cdef double RADIAN = M_PI / 180.0
cdef double SHOULDER_WIDTH = tuning.SHOULDER_WIDTH
cdef double SHOULDER_WIDTH_SD = tuning.SHOULDER_WIDTH_SD
cdef double HIP_WIDTH = tuning.HIP_WIDTH
cdef double HIP_WIDTH_SD = tuning.HIP_WIDTH_SD
cdef double WIDTH_ERROR = tuning.WIDTH_ERROR
cdef double Z_STRETCH = tuning.Z_STRETCH
cdef double Z_WEIGHT_SHOULDERS = 1.0 / (tuning.Z_ANGLE_SD_SHOULDERS_DEG * M_PI / 180.0) ** 2
cdef double Z_WEIGHT_HIPS = 1.0 / (tuning.Z_ANGLE_SD_HIPS_DEG * M_PI / 180.0) ** 2
cdef double LEAN_ERROR = tuning.LEAN_ERROR
cdef double SIN_BEND = sin(tuning.SIDE_BEND_PRIOR_DEG * M_PI / 180.0)
cdef double SIN_BEND_SD = sin(tuning.SIDE_BEND_SD_DEG * M_PI / 180.0)
cdef double TILT_PRIOR = tuning.TILT_PRIOR_DEG * M_PI / 180.0
cdef double TILT_SD = tuning.TILT_SD_DEG * M_PI / 180.0
cdef double TILT_MIN_DEG = tuning.TILT_RANGE_DEG[0]
cdef double TILT_MAX_DEG = tuning.TILT_RANGE_DEG[1]
cdef double FACE_ON_MAX_DEG = tuning.FACE_ON_MAX_DEG
cdef double DTL_MIN_DEG = tuning.DTL_MIN_DEG
cdef double Z_MIN_SIN = tuning.Z_MIN_SIN
cdef double TURN_ERROR_2D = tuning.TURN_ERROR_2D
cdef double TURN_ERROR_Z = tuning.TURN_ERROR_Z
cdef double TURN_ERROR_Z_STRETCH = tuning.TURN_ERROR_Z_STRETCH
cdef double TURN_ERROR_TILT = tuning.TURN_ERROR_TILT
cdef double TURN_WEAK = tuning.TURN_WEAK
cdef double Z_SIGN_MIN = tuning.Z_SIGN_MIN
cdef double Z_PICK_MIN_SIN = tuning.Z_PICK_MIN_SIN


def _mask(names):
    cdef unsigned int m = 0
    for name in names:
        m |= (<unsigned int>1) << <int>KPI_NAMES.index(name)
    return m


cdef unsigned int ALL_KPIS = ((<unsigned int>1) << NUM_KPIS) - 1
cdef unsigned int[4] VIEW_MASK = [ALL_KPIS, _mask(tuning.VIEW_KPIS["face_on"]),
                                  _mask(tuning.VIEW_KPIS["down_the_line"]),
                                  _mask(tuning.VIEW_KPIS["oblique"])]


cdef inline double _sign(double x) noexcept nogil:
    return -1.0 if x < 0.0 else 1.0


cdef inline double _depth_angle(double width, double dz) noexcept nogil:
    """A line's angle off the picture plane from its depth: MediaPipe's z runs Z_STRETCH times
    the body's depth, and the lead end is the farther one from any supported camera (a line
    reaching toward the camera reads as face-on)."""
    return atan2(fmax(-dz, 0.0) / Z_STRETCH, width)


cdef inline double _cost(double shoulders, double hips, double lean, double vt, double target_x,
                         double ball_x, double angle_deg, double tilt_deg,
                         double shoulders_depth, double hips_depth) noexcept nogil:
    """How unlikely the address picture is from this camera angle and spine tilt.

    ``*_depth``: each line's angle read from its depth (``_depth_angle``); the widths
    alone cannot tell a broad golfer at 45 degrees from a narrow one face-on."""
    cdef double t = tilt_deg * RADIAN, a = angle_deg * RADIAN
    cdef double ca = cos(a), sa = sin(a)
    cdef double torso = vt / cos(t)
    cdef double r1 = (shoulders - SHOULDER_WIDTH * torso * ca) / (torso * (SHOULDER_WIDTH_SD * ca + WIDTH_ERROR))
    cdef double r2 = (hips - HIP_WIDTH * torso * ca) / (torso * (HIP_WIDTH_SD * ca + WIDTH_ERROR))
    # the spine leans toward the ball by its tilt and away from the target by its side bend
    cdef double lean_model = torso * (ball_x * sa * sin(t) - target_x * ca * SIN_BEND)
    cdef double r3 = (lean - lean_model) / (torso * sqrt(LEAN_ERROR * LEAN_ERROR + ca * ca * SIN_BEND_SD * SIN_BEND_SD))
    cdef double r4 = (t - TILT_PRIOR) / TILT_SD
    return (r1 * r1 + r2 * r2 + r3 * r3 + r4 * r4
            + Z_WEIGHT_SHOULDERS * (a - shoulders_depth) * (a - shoulders_depth)
            + Z_WEIGHT_HIPS * (a - hips_depth) * (a - hips_depth))


cdef bint camera_fit(const Body* b, int forced_view, Camera* out) noexcept nogil:
    """Fit the camera to an address pose in image landmarks; False when the pose cannot say.

    A grid over the camera angle and the spine tilt (5 degree steps, then 1
    degree around the best), for the ball on either side of the picture.
    """
    cdef double sx = b.p[LEAD_SHOULDER][0] - b.p[TRAIL_SHOULDER][0]
    cdef double hx = b.p[LEAD_HIP][0] - b.p[TRAIL_HIP][0]
    cdef double lean = b.shoulder_mid[0] - b.hip_mid[0]
    cdef double vt = b.shoulder_mid[1] - b.hip_mid[1]
    if not vt > 0.0:
        return False   # the shoulders must be above the hips
    cdef double lo = 0.0, hi = 90.0
    if forced_view == FACE_ON:
        hi = FACE_ON_MAX_DEG
    elif forced_view == DOWN_THE_LINE:
        lo = DTL_MIN_DEG
    elif forced_view == OBLIQUE:
        lo = FACE_ON_MAX_DEG
        hi = DTL_MIN_DEG
    cdef double target_x = _sign(sx + hx)
    cdef double shoulders = fabs(sx), hips = fabs(hx)
    cdef double sd = _depth_angle(shoulders, b.p[LEAD_SHOULDER][2] - b.p[TRAIL_SHOULDER][2])
    cdef double hd = _depth_angle(hips, b.p[LEAD_HIP][2] - b.p[TRAIL_HIP][2])
    cdef double best = 1e300, best_a = lo, best_t = TILT_PRIOR / RADIAN, best_ball = 1.0
    cdef double c, a, t, ball
    cdef int side, i, j
    for side in range(2):
        ball = 1.0 if side == 0 else -1.0
        a = lo
        while a <= hi + 1e-9:
            t = TILT_MIN_DEG
            while t <= TILT_MAX_DEG + 1e-9:
                c = _cost(shoulders, hips, lean, vt, target_x, ball, a, t, sd, hd)
                if c < best:
                    best, best_a, best_t, best_ball = c, a, t, ball
                t += 5.0
            a += 5.0
    cdef double coarse_a = best_a, coarse_t = best_t
    for i in range(-4, 5):
        a = coarse_a + i
        if a < lo or a > hi:
            continue
        for j in range(-4, 5):
            t = coarse_t + j
            if t < TILT_MIN_DEG or t > TILT_MAX_DEG:
                continue
            c = _cost(shoulders, hips, lean, vt, target_x, best_ball, a, t, sd, hd)
            if c < best:
                best, best_a, best_t = c, a, t
    out.angle = best_a * RADIAN
    out.cos_a = cos(out.angle)
    out.sin_a = sin(out.angle)
    out.tilt = best_t * RADIAN
    out.cos_t = cos(out.tilt)
    out.sin_t = sin(out.tilt)
    out.target_x = target_x
    out.ball_x = best_ball
    out.torso = vt / out.cos_t
    # a line's width: seen directly face-on, from body proportions down-the-line
    out.shoulder_width = out.cos_a * shoulders + out.sin_a * out.sin_a * SHOULDER_WIDTH * out.torso
    out.hip_width = out.cos_a * hips + out.sin_a * out.sin_a * HIP_WIDTH * out.torso
    if forced_view != VIEW_NONE:
        out.view = forced_view
    elif best_a < FACE_ON_MAX_DEG:
        out.view = FACE_ON
    elif best_a > DTL_MIN_DEG:
        out.view = DOWN_THE_LINE
    else:
        out.view = OBLIQUE
    out.measured = VIEW_MASK[out.view]
    return True


cdef void camera_for_world(const double* target, Camera* out) noexcept nogil:
    """3-D input measures everything; camera-aligned world landmarks still tell the angle."""
    out.angle = atan2(fabs(target[2]), fabs(target[0]))
    out.cos_a = cos(out.angle)
    out.sin_a = sin(out.angle)
    out.target_x = _sign(target[0])
    out.ball_x = 1.0
    out.tilt = 0.0
    out.cos_t = 1.0
    out.sin_t = 0.0
    out.torso = 0.0
    out.shoulder_width = 0.0
    out.hip_width = 0.0
    if degrees(out.angle) < FACE_ON_MAX_DEG:
        out.view = FACE_ON
    elif degrees(out.angle) > DTL_MIN_DEG:
        out.view = DOWN_THE_LINE
    else:
        out.view = OBLIQUE
    out.measured = ALL_KPIS


cdef double camera_turn(const Camera* cam, const double* now, const double* address, double width,
                        bint tilted, double handed) noexcept nogil:
    """Degrees a line (lead minus trail point) has turned from address, + away from the target.

    Horizontal-plane angle, as a 3-D capture would read it. ``tilted``: the
    line turns about the tilted spine (shoulders), else about the vertical (hips).
    """
    cdef double ct = cam.cos_t if tilted else 1.0
    cdef double st = cam.sin_t if tilted else 0.0
    cdef double m00 = 0.0, m01 = 0.0, m11 = 0.0, r0 = 0.0, r1 = 0.0
    cdef double w, cs, ss
    # x: the backswing direction's horizontal part in the picture
    w = 1.0 / (TURN_ERROR_2D * width) ** 2
    cs = address[0]
    ss = width * ct * cam.ball_x * cam.sin_a
    m00 += w * cs * cs
    m01 += w * cs * ss
    m11 += w * ss * ss
    r0 += w * cs * now[0]
    r1 += w * ss * now[0]
    # y: a line turning about a tilted spine dips its lead end -- as far as the fitted tilt
    # says, which face-on is a guess from body proportions
    if tilted:
        w = 1.0 / ((TURN_ERROR_2D * TURN_ERROR_2D + (TURN_ERROR_TILT * st * cam.cos_a) ** 2) * width * width)
        cs = address[1]
        ss = -width * st
        m00 += w * cs * cs
        m01 += w * cs * ss
        m11 += w * ss * ss
        r0 += w * cs * now[1]
        r1 += w * ss * now[1]
    # z: against its own address value where the line had depth, else on MediaPipe's usual
    # stretch (a turning line's lead end comes toward a camera on the ball side)
    cdef double dz0 = address[2]
    cdef bint use_z = cam.sin_a >= Z_MIN_SIN and fabs(dz0) > 1e-9
    if use_z or width > 0.0:
        cs = dz0
        if use_z:
            w = 1.0 / (TURN_ERROR_Z * dz0) ** 2
            ss = -dz0 * ct * (cam.cos_a / cam.sin_a) * cam.target_x * cam.ball_x
        else:
            w = 1.0 / (TURN_ERROR_Z_STRETCH * Z_STRETCH * width) ** 2
            ss = Z_STRETCH * width * ct * cam.cos_a
        m00 += w * cs * cs
        m01 += w * cs * ss
        m11 += w * ss * ss
        r0 += w * cs * now[2]
        r1 += w * ss * now[2]
    cdef double tr = m00 + m11
    cdef double root = sqrt((m00 - m11) * (m00 - m11) + 4.0 * m01 * m01)
    cdef double big = 0.5 * (tr + root), small = 0.5 * (tr - root)
    cdef double c, s, det, ux, uy, proj, q, s_sign, c1, s1, c2, s2, dz
    cdef bint pick_first
    if not big > 0.0:
        return 0.0
    if small >= TURN_WEAK * big:
        det = m00 * m11 - m01 * m01
        c = (m11 * r0 - m01 * r1) / det
        s = (m00 * r1 - m01 * r0) / det
    else:
        # only one combination of (cos, sin) is seen: keep it, and close on the unit circle
        if fabs(m01) > 1e-12 * big:
            ux = big - m11
            uy = m01
        elif m00 >= m11:
            ux = 1.0
            uy = 0.0
        else:
            ux = 0.0
            uy = 1.0
        q = sqrt(ux * ux + uy * uy)
        ux /= q
        uy /= q
        proj = (ux * r0 + uy * r1) / big
        if proj > 1.0:
            proj = 1.0
        elif proj < -1.0:
            proj = -1.0
        q = sqrt(1.0 - proj * proj)
        c1 = proj * ux - q * uy
        s1 = proj * uy + q * ux
        c2 = proj * ux + q * uy
        s2 = proj * uy - q * ux
        # Which of the two: the picture's x alone folds a turn about the camera
        # axis. Where the line had depth at address, the one whose depth change
        # z agrees with (z's scale cancels); else the way z moved, face-on.
        dz = now[2] - dz0
        if cam.sin_a >= Z_PICK_MIN_SIN and fabs(dz0) > Z_SIGN_MIN * cam.torso:
            ss = -dz0 * ct * (cam.cos_a / cam.sin_a) * cam.target_x * cam.ball_x
            pick_first = fabs(c1 * dz0 + s1 * ss - now[2]) <= fabs(c2 * dz0 + s2 * ss - now[2])
        else:
            s_sign = 1.0
            if fabs(dz) > Z_SIGN_MIN * cam.torso:
                s_sign = _sign(dz) * handed * cam.target_x
            pick_first = s1 * s_sign >= s2 * s_sign
        if pick_first:
            c = c1
            s = s1
        else:
            c = c2
            s = s2
    return degrees(atan2(s * ct, c))
