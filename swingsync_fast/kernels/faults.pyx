# cython: language_level=3
"""Fault rules over the KPIs of one swing.

Each rule has a metric that grows worse upward, a window of phases, and a
limit. A frame counts only together with the frame before it (the pair's
smaller value), so a single noisy frame never raises a fault. Severity runs
from 0.3 at the limit to 1.0 at limit + span.
"""

from libc.math cimport sqrt, log, NAN, INFINITY
from .frame cimport (SHOULDER_TURN, SPINE_TILT, SIDE_BEND, LEAD_ELBOW_ANGLE, TRAIL_KNEE_ANGLE,
                     HEAD_SWAY, HEAD_LIFT, PELVIS_SWAY, PELVIS_THRUST, WRIST_HINGE,
                     WEIGHT_SHIFT)
from .phase cimport TAKEAWAY, BACKSWING, TOP, DOWNSWING, IMPACT, FOLLOW_THROUGH

from . import tuning

cdef double CHICKEN_WING_WINDOW_S = tuning.CHICKEN_WING_WINDOW_S
cdef double HANGING_BACK_WINDOW_S = tuning.HANGING_BACK_WINDOW_S
cdef double CASTING_MIN_RISE = tuning.CASTING_MIN_RISE
cdef double CASTING_TOP_SHARE = tuning.CASTING_TOP_SHARE


cdef void peak_reset(Peak* p) noexcept nogil:
    p.value = -INFINITY
    p.prev = NAN


cdef void peak_track(Peak* p, double value) noexcept nogil:
    """Feed one frame; NaN (outside the window or not measurable) breaks the pair."""
    if value != value:
        p.prev = NAN
        return
    if p.prev == p.prev:
        if value < p.prev:
            if value > p.value:
                p.value = value
        elif p.prev > p.value:
            p.value = p.prev
    p.prev = value


cdef inline double _severity(double excess, double span) noexcept nogil:
    cdef double x = excess / span
    if x > 1.0:
        x = 1.0
    return 0.3 + 0.7 * x


cdef void faults_begin(FaultTracker* f, const double* address_kpis) noexcept nogil:
    cdef int i
    for i in range(NUM_FAULTS):
        peak_reset(&f.peak[i])
        f.severity[i] = 0.0
        f.judged[i] = False
    f.address_spine_tilt = address_kpis[SPINE_TILT]
    f.address_trail_knee = address_kpis[TRAIL_KNEE_ANGLE]
    peak_reset(&f.top_wrist_hinge)
    f.top_rise = NAN


cdef void faults_top(FaultTracker* f, double top_rise) noexcept nogil:
    f.top_rise = top_rise


cdef inline void _exceeds(FaultTracker* f, int fault, bint in_window, double metric) noexcept nogil:
    peak_track(&f.peak[fault], metric if in_window else NAN)
    cdef double excess = f.peak[fault].value - f.limit[fault]
    if excess > 0.0:
        f.severity[fault] = _severity(excess, f.span[fault])


cdef void faults_step(FaultTracker* f, const double* k, int phase, int p_position,
                      double rise, double since_impact) noexcept nogil:
    """Feed one usable frame of the swing in progress."""
    cdef bint backswing = phase == BACKSWING or phase == TOP
    cdef bint late_backswing = (phase == BACKSWING and p_position >= 3) or phase == TOP
    cdef bint downswing = phase == DOWNSWING or phase == IMPACT
    cdef bint after_impact = phase == IMPACT or phase == FOLLOW_THROUGH
    cdef double casting_rise = CASTING_TOP_SHARE * f.top_rise
    if casting_rise < CASTING_MIN_RISE:
        casting_rise = CASTING_MIN_RISE

    _exceeds(f, SWAY, phase == TAKEAWAY or backswing, k[PELVIS_SWAY])
    _exceeds(f, SLIDE, downswing, -k[PELVIS_SWAY])
    _exceeds(f, EARLY_EXTENSION, downswing, k[PELVIS_THRUST])
    _exceeds(f, LOSS_OF_POSTURE, backswing or downswing, f.address_spine_tilt - k[SPINE_TILT])
    _exceeds(f, REVERSE_SPINE, late_backswing, -k[SIDE_BEND])
    _exceeds(f, BENT_LEAD_ARM, late_backswing, 180.0 - k[LEAD_ELBOW_ANGLE])
    peak_track(&f.top_wrist_hinge, k[WRIST_HINGE] if late_backswing else NAN)
    cdef double top_hinge = f.top_wrist_hinge.value if f.top_wrist_hinge.value > -INFINITY else NAN
    _exceeds(f, CASTING, phase == DOWNSWING and rise >= casting_rise, top_hinge - k[WRIST_HINGE])
    _exceeds(f, HEAD_MOVEMENT, TAKEAWAY <= phase <= IMPACT,
             sqrt(k[HEAD_SWAY] * k[HEAD_SWAY] + k[HEAD_LIFT] * k[HEAD_LIFT]))
    _exceeds(f, TRAIL_KNEE_STRAIGHTENING, backswing, k[TRAIL_KNEE_ANGLE] - f.address_trail_knee)

    peak_track(&f.peak[INSUFFICIENT_SHOULDER_TURN], k[SHOULDER_TURN] if backswing else NAN)
    _after_impact(f, k, after_impact, since_impact)
    if phase == FOLLOW_THROUGH and since_impact > HANGING_BACK_WINDOW_S:
        faults_judge_weight(f)


cdef void faults_impact_frame(FaultTracker* f, const double* k) noexcept nogil:
    """Feed the impact frame itself once impact is confirmed (it was read as downswing)."""
    _after_impact(f, k, True, 0.0)


cdef inline void _after_impact(FaultTracker* f, const double* k, bint after_impact,
                               double since_impact) noexcept nogil:
    _exceeds(f, CHICKEN_WING, after_impact and since_impact <= CHICKEN_WING_WINDOW_S,
             180.0 - k[LEAD_ELBOW_ANGLE])
    peak_track(&f.peak[HANGING_BACK],
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
