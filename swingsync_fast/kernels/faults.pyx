# cython: language_level=3
"""Fault rules over the KPIs of one swing.

Each rule has a metric that grows worse upward, a window of phases, and a
limit. A metric counts at the value it held for FAULT_HOLD_S (the smallest
over the shortest run of frames spanning that long), so a noisy frame or two
never raise a fault, at any frame rate. A metric the camera view does not
measure is NaN, which breaks every run: such a rule gives no verdict.
Severity runs from 0.3 at the limit to 1.0 at limit + span.
"""

from libc.math cimport sqrt, log, NAN, INFINITY
from .body cimport (SHOULDER_TURN, SPINE_TILT, SIDE_BEND, LEAD_ELBOW_ANGLE, TRAIL_KNEE_ANGLE,
                     HEAD_SWAY, HEAD_LIFT, PELVIS_SWAY, PELVIS_THRUST, WRIST_HINGE,
                     WEIGHT_SHIFT)
from .phase cimport TAKEAWAY, BACKSWING, TOP, DOWNSWING, IMPACT, FOLLOW_THROUGH

from . import tuning

cdef double CHICKEN_WING_WINDOW_S = tuning.CHICKEN_WING_WINDOW_S
cdef double HANGING_BACK_WINDOW_S = tuning.HANGING_BACK_WINDOW_S
cdef double CASTING_MIN_RISE = tuning.CASTING_MIN_RISE
cdef double CASTING_TOP_SHARE = tuning.CASTING_TOP_SHARE
cdef double FAULT_HOLD_S = tuning.FAULT_HOLD_S
cdef double HEAD_DIP_WEIGHT = tuning.HEAD_DIP_WEIGHT


cdef void held_reset(Held* h) noexcept nogil:
    h.value = -INFINITY
    h.head = 0
    h.count = 0


cdef void held_track(Held* h, double t, double value) noexcept nogil:
    """Feed one frame; NaN (outside the window or not measurable) breaks the run."""
    if value != value:
        h.count = 0
        return
    h.head = (h.head + 1) % HOLD_SAMPLES
    h.t[h.head] = t
    h.v[h.head] = value
    if h.count < HOLD_SAMPLES:
        h.count += 1
    # The median of the run that spans the hold: one odd frame never counts,
    # and at a high frame rate the many samples average the jitter out
    # instead of letting the lowest decide.
    cdef double run[HOLD_SAMPLES]
    cdef bint spanned = h.count == HOLD_SAMPLES   # a run longer than the ring spans the hold
    cdef int i = h.head, n, j, size = 0
    cdef double v
    for n in range(h.count):
        v = h.v[i]
        j = size
        while j > 0 and run[j - 1] > v:
            run[j] = run[j - 1]
            j -= 1
        run[j] = v
        size += 1
        if t - h.t[i] >= FAULT_HOLD_S - 1e-9:
            spanned = True
            break
        i = (i + HOLD_SAMPLES - 1) % HOLD_SAMPLES
    if spanned and run[(size - 1) // 2] > h.value:
        h.value = run[(size - 1) // 2]


cdef inline double _severity(double excess, double span) noexcept nogil:
    cdef double x = excess / span
    if x > 1.0:
        x = 1.0
    return 0.3 + 0.7 * x


cdef void faults_begin(FaultTracker* f, const double* address_kpis) noexcept nogil:
    cdef int i
    for i in range(NUM_FAULTS):
        held_reset(&f.peak[i])
        f.severity[i] = 0.0
        f.judged[i] = False
    f.address_spine_tilt = address_kpis[SPINE_TILT]
    f.address_trail_knee = address_kpis[TRAIL_KNEE_ANGLE]
    held_reset(&f.top_wrist_hinge)
    f.top_rise = NAN


cdef void faults_top(FaultTracker* f, double top_rise) noexcept nogil:
    f.top_rise = top_rise


cdef inline void _exceeds(FaultTracker* f, int fault, double t, bint in_window, double metric) noexcept nogil:
    held_track(&f.peak[fault], t, metric if in_window else NAN)
    cdef double excess = f.peak[fault].value - f.limit[fault]
    if excess > 0.0:
        f.severity[fault] = _severity(excess, f.span[fault])


cdef inline double _head_movement(const double* k) noexcept nogil:
    """How far the head moved: along the target line where the view sees it, and up or down.

    A dip counts at HEAD_DIP_WEIGHT: good players' heads drop several cm into
    impact as the legs flex (about 10 cm on the real down-the-line clips,
    a tour player's included); a head that rises or sways is what a coach calls.
    """
    cdef double sway = k[HEAD_SWAY]
    cdef double lift = k[HEAD_LIFT]
    if sway != sway:
        sway = 0.0   # down-the-line: the lift alone (NaN when the head is unseen)
    if lift < 0.0:
        lift *= HEAD_DIP_WEIGHT
    return sqrt(sway * sway + lift * lift)


cdef void faults_step(FaultTracker* f, const double* k, double t, int phase, int p_position,
                      double rise, double since_impact) noexcept nogil:
    """Feed one usable frame of the swing in progress."""
    cdef bint backswing = phase == BACKSWING or phase == TOP
    cdef bint late_backswing = (phase == BACKSWING and p_position >= 3) or phase == TOP
    cdef bint downswing = phase == DOWNSWING or phase == IMPACT
    cdef bint after_impact = phase == IMPACT or phase == FOLLOW_THROUGH
    cdef double casting_rise = CASTING_TOP_SHARE * f.top_rise
    if casting_rise < CASTING_MIN_RISE:
        casting_rise = CASTING_MIN_RISE

    _exceeds(f, SWAY, t, phase == TAKEAWAY or backswing, k[PELVIS_SWAY])
    _exceeds(f, SLIDE, t, downswing, -k[PELVIS_SWAY])
    _exceeds(f, EARLY_EXTENSION, t, downswing, k[PELVIS_THRUST])
    _exceeds(f, LOSS_OF_POSTURE, t, backswing or downswing, f.address_spine_tilt - k[SPINE_TILT])
    _exceeds(f, REVERSE_SPINE, t, late_backswing, -k[SIDE_BEND])
    _exceeds(f, BENT_LEAD_ARM, t, late_backswing, 180.0 - k[LEAD_ELBOW_ANGLE])
    held_track(&f.top_wrist_hinge, t, k[WRIST_HINGE] if late_backswing else NAN)
    cdef double top_hinge = f.top_wrist_hinge.value if f.top_wrist_hinge.value > -INFINITY else NAN
    _exceeds(f, CASTING, t, phase == DOWNSWING and rise >= casting_rise, top_hinge - k[WRIST_HINGE])
    _exceeds(f, HEAD_MOVEMENT, t, TAKEAWAY <= phase <= IMPACT, _head_movement(k))
    _exceeds(f, TRAIL_KNEE_STRAIGHTENING, t, backswing, k[TRAIL_KNEE_ANGLE] - f.address_trail_knee)

    held_track(&f.peak[INSUFFICIENT_SHOULDER_TURN], t, k[SHOULDER_TURN] if backswing else NAN)
    _after_impact(f, k, t, after_impact, since_impact)
    if phase == FOLLOW_THROUGH and since_impact > HANGING_BACK_WINDOW_S:
        faults_judge_weight(f)


cdef void faults_impact_frame(FaultTracker* f, const double* k, double t) noexcept nogil:
    """Feed the impact frame itself once impact is confirmed (it was read as downswing)."""
    _after_impact(f, k, t, True, 0.0)


cdef inline void _after_impact(FaultTracker* f, const double* k, double t, bint after_impact,
                               double since_impact) noexcept nogil:
    _exceeds(f, CHICKEN_WING, t, after_impact and since_impact <= CHICKEN_WING_WINDOW_S,
             180.0 - k[LEAD_ELBOW_ANGLE])
    held_track(&f.peak[HANGING_BACK], t,
               k[WEIGHT_SHIFT] if after_impact and since_impact <= HANGING_BACK_WINDOW_S else NAN)


cdef inline void _falls_short(FaultTracker* f, int fault) noexcept nogil:
    """Judge a "did not reach" rule once, when its window has closed."""
    if f.judged[fault]:
        return
    f.judged[fault] = True
    cdef double peak = f.peak[fault].value
    if peak == -INFINITY:
        return          # never measured: no verdict
    if peak < f.limit[fault]:
        f.severity[fault] = _severity(f.limit[fault] - peak, f.span[fault])


cdef void faults_judge_turn(FaultTracker* f) noexcept nogil:
    _falls_short(f, INSUFFICIENT_SHOULDER_TURN)


cdef void faults_judge_weight(FaultTracker* f) noexcept nogil:
    _falls_short(f, HANGING_BACK)


cdef void faults_judge_tempo(FaultTracker* f, double tempo) noexcept nogil:
    if not tempo > 0.0:
        return
    cdef double excess = log(f.tempo_low / tempo)
    cdef double high = log(tempo / f.tempo_high)
    if high > excess:
        excess = high
    if excess > 0.0:
        f.severity[POOR_TEMPO] = _severity(excess, f.span[POOR_TEMPO])
