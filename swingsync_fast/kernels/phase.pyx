# cython: language_level=3
"""Causal phase detection from the hands' path relative to the address pose.

Every threshold is in torso lengths (hip centre to shoulder centre at
address) and seconds, so the machine works in metres or image units and at
any frame rate. Tops and impacts are reported at the frame where they
happened (the highest / the lowest hands near address) once the hands have
clearly moved on, which takes one to three frames at 30 FPS.
"""

from libc.math cimport sqrt, exp, fmin, fmax, NAN, INFINITY
from .body cimport (Body, LEAD_SHOULDER, TRAIL_SHOULDER, LEAD_WRIST, TRAIL_WRIST, MEDIAPIPE_IMAGE)
from .frame cimport Reference, make_reference, fit_camera, blend_body

from . import tuning

cdef double STILL_RADIUS = tuning.STILL_RADIUS
cdef double ADDRESS_STILL_S = tuning.ADDRESS_STILL_S
cdef double STILL_SMOOTH_S = tuning.STILL_SMOOTH_S
cdef double HANDS_LOW = tuning.HANDS_LOW
cdef double GRIP_MAX = tuning.GRIP_MAX
cdef double ADDRESS_SMOOTH_S = tuning.ADDRESS_SMOOTH_S
cdef double AT_ADDRESS = tuning.AT_ADDRESS
cdef double TAKEAWAY_START = tuning.TAKEAWAY_START
cdef double BACKSWING_RISE = tuning.BACKSWING_RISE
cdef double ARM_PARALLEL = tuning.ARM_PARALLEL
cdef double TOP_MIN_RISE = tuning.TOP_MIN_RISE
cdef double TOP_DROP = tuning.TOP_DROP
cdef double IMPACT_ZONE = tuning.IMPACT_ZONE
cdef double IMPACT_NEAR = tuning.IMPACT_NEAR
cdef double IMPACT_PASS = tuning.IMPACT_PASS
cdef double WALKED = tuning.WALKED
cdef double FINISH_STILL_S = tuning.FINISH_STILL_S
cdef double FINISH_MIN_S = tuning.FINISH_MIN_S
cdef double FINISH_LEAVE = tuning.FINISH_LEAVE
cdef double TAKEAWAY_MAX_S = tuning.TAKEAWAY_MAX_S
cdef double BACKSWING_MAX_S = tuning.BACKSWING_MAX_S
cdef double DOWNSWING_MAX_S = tuning.DOWNSWING_MAX_S
cdef double FOLLOW_MAX_S = tuning.FOLLOW_MAX_S
cdef double GAP_MAX_S = tuning.GAP_MAX_S
cdef double HAND_SMOOTH_S = tuning.HAND_SMOOTH_S
cdef double TURN_SMOOTH_S = tuning.TURN_SMOOTH_S
cdef double TAKEAWAY_BACKTRACK = tuning.TAKEAWAY_BACKTRACK
cdef double READDRESS_GAP = tuning.READDRESS_GAP
cdef double GRIP_SEEN = tuning.GRIP_SEEN
cdef double ADDRESS_TURN = tuning.ADDRESS_TURN_DEG
cdef double TAKEAWAY_TURN = tuning.TAKEAWAY_TURN_DEG


cdef void machine_reset(PhaseMachine* m) noexcept nogil:
    m.phase = IDLE
    m.p_position = 0
    m.has_ref = False
    m.t_phase = NAN
    m.last.t = NAN
    m.anchor.t = NAN
    m.turn = 0.0
    m.swings = 0
    m.event_phase = -1
    m.swing_done = False
    m.armed = False
    m.refined = 0.0


cdef inline void _mark(Marker* mk, long frame, double t, int slot) noexcept nogil:
    mk.frame = frame
    mk.t = t
    mk.slot = slot


cdef inline void _enter(PhaseMachine* m, int phase, const Marker* at) noexcept nogil:
    m.phase = phase
    m.t_phase = at.t
    m.event_phase = phase
    m.event = at[0]


cdef inline double _dist(const double* a, const double* b, double depth_weight) noexcept nogil:
    """Distance with the depth axis weighted: MediaPipe's image depth is too noisy to trust."""
    cdef double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2]
    return sqrt(dx * dx + dy * dy + depth_weight * dz * dz)


cdef double hands_rise(const PhaseMachine* m) noexcept nogil:
    """Hands above their address height, in address torso lengths (NaN before an address)."""
    if not m.has_ref:
        return NAN
    return (m.hands[1] - m.ref.body.hands[1]) / m.ref.body.torso


cdef inline bint _arm_level(const Body* b, int wrist, int shoulder, double s) noexcept nogil:
    """The arm is at or above parallel: its wrist is level with its shoulder."""
    cdef double y = b.p[wrist][1] if b.ok[wrist] else b.hands[1]
    return y >= b.p[shoulder][1] - ARM_PARALLEL * s


cdef inline double _hip_travel(const PhaseMachine* m, const Body* b, double depth_weight) noexcept nogil:
    """Horizontal travel of the hips over the feet since address (0 when the feet are unseen)."""
    cdef const Body* a = &m.ref.body
    cdef int foot = m.ref.foot
    if foot < 0 or not b.ok[foot]:
        return 0.0
    cdef double dx = (b.hip_mid[0] - b.p[foot][0]) - (a.hip_mid[0] - a.p[foot][0])
    cdef double dz = (b.hip_mid[2] - b.p[foot][2]) - (a.hip_mid[2] - a.p[foot][2])
    return sqrt(dx * dx + depth_weight * dz * dz) / a.torso


cdef bint _looks_like_address(const Body* b, double depth_weight) noexcept nogil:
    """Hands low and, where both wrists are clearly seen, together on a grip.

    A wrist hidden behind the other hand (face-on, the trail wrist) comes
    back as a guess well away from the grip, so only two clearly seen wrists
    can say the hands are apart.
    """
    if (b.hands[1] - b.shoulder_mid[1]) / b.torso > HANDS_LOW:
        return False
    if (b.ok[LEAD_WRIST] and b.ok[TRAIL_WRIST] and b.vis[LEAD_WRIST] >= GRIP_SEEN
            and b.vis[TRAIL_WRIST] >= GRIP_SEEN):
        return _dist(b.p[LEAD_WRIST], b.p[TRAIL_WRIST], depth_weight) / b.torso < GRIP_MAX
    return True


cdef void _start_takeaway(PhaseMachine* m, const Marker* now, double gap) noexcept nogil:
    """Place the start of the takeaway between the last frame at address and now.

    The hands leave address from rest, so their distance grows about as the
    square of time: the start is where that curve through both frames meets
    zero. Without it the backswing, and so the tempo, reads short.
    """
    m.takeaway = m.at_address
    if m.at_address_gap <= 0.0 or gap <= m.at_address_gap:
        return
    cdef double span = now.t - m.at_address.t
    cdef double back = span / (sqrt(gap / m.at_address_gap) - 1.0)
    if back > TAKEAWAY_BACKTRACK * span:
        back = TAKEAWAY_BACKTRACK * span
    if m.at_address.t - back < m.t_phase:
        back = m.at_address.t - m.t_phase
    m.takeaway.t = m.at_address.t - back
    m.takeaway.frame = m.at_address.frame - <long>(back / span * (now.frame - m.at_address.frame) + 0.5)


cdef inline void _extreme_start(Extremum* e, double t, double value, double before_t,
                                double before) noexcept nogil:
    e.t = t
    e.value = value
    e.before_t = before_t
    e.before = before
    e.after_t = NAN
    e.after = NAN


cdef inline void _extreme_next(Extremum* e, double t, double value) noexcept nogil:
    """A sample that did not beat the extreme: the first one is its right neighbour."""
    if e.after_t != e.after_t:
        e.after_t = t
        e.after = value


cdef double _vertex_time(const Extremum* e, bint peak) noexcept nogil:
    """Vertex of the parabola through the extreme sample and its neighbours: the hands turn
    smoothly at the top (``peak``) and bottom out smoothly at impact."""
    cdef double t1 = e.before_t, t2 = e.t, t3 = e.after_t
    cdef double y1 = e.before, y2 = e.value, y3 = e.after
    if not (t1 < t2 < t3):
        return t2
    cdef double a = ((y3 - y2) / (t3 - t2) - (y1 - y2) / (t1 - t2)) / (t3 - t1)
    if not (a < 0.0 if peak else a > 0.0):
        return t2
    cdef double slope12 = (y2 - y1) / (t2 - t1)
    # y = y1 + slope12 (t - t1) + a (t - t1)(t - t2); its derivative is zero at:
    cdef double vertex = 0.5 * (t1 + t2) - slope12 / (2.0 * a)
    return fmin(fmax(vertex, t1), t3)


cdef void _arm(PhaseMachine* m, const Body* b, const Marker* now, bint right_handed,
               int convention) noexcept nogil:
    """A stable address: take this pose as the reference and wait for a takeaway."""
    cdef Body pose = b[0]
    cdef Reference ref
    if make_reference(&pose, right_handed, convention, &ref) and fit_camera(&ref, convention, m.forced_view):
        m.ref = ref       # a refused pose leaves the previous address untouched
        m.armed = True
        m.has_ref = True
        m.p_position = 1
        m.at_address = now[0]
        m.at_address_gap = 0.0
        m.turn = 0.0
        _enter(m, SETUP, &m.anchor)   # the address began when the golfer settled


cdef void machine_rearm(PhaseMachine* m, const Body* b, long frame, double t, int slot,
                       bint right_handed, int convention) noexcept nogil:
    """Take the address this step armed again, from the same frame read the other way round."""
    cdef Marker now
    now.frame = frame
    now.t = t
    now.slot = slot
    _arm(m, b, &now, right_handed, convention)


cdef void _finish(PhaseMachine* m, const Marker* at, const double* hands) noexcept nogil:
    """The swing ends here; the finish is left when the hands move away from ``hands``."""
    cdef int k
    for k in range(3):
        m.finish_hands[k] = hands[k]
    m.finish = at[0]
    m.p_position = 10
    m.swing_done = True
    _enter(m, FINISH, at)


cdef void _abandon(PhaseMachine* m, const Marker* now, const double* hands) noexcept nogil:
    if m.phase == FOLLOW_THROUGH:
        # the swing was counted at impact: close it rather than lose it
        _finish(m, now, hands)
        return
    m.p_position = 0
    _enter(m, IDLE, now)


cdef void machine_close(PhaseMachine* m) noexcept nogil:
    """End of stream: a swing already past impact finishes at the last usable frame."""
    m.event_phase = -1
    m.swing_done = False
    if m.phase == IMPACT or m.phase == FOLLOW_THROUGH:
        _finish(m, &m.last, m.last_hands)


cdef void machine_step(PhaseMachine* m, const Body* b, bint usable, long frame, double t, int slot,
                       bint right_handed, int convention, double turn) noexcept nogil:
    """Feed one frame; ``turn``: its shoulder turn from the address in force (NaN: unknown).

    The turn tells a takeaway that the picture hides: down-the-line the hands
    first move along the camera's axis, while the shoulders already turn.
    """
    cdef Marker now
    _mark(&now, frame, t, slot)
    m.event_phase = -1
    m.swing_done = False
    m.armed = False
    m.refined = 0.0
    if TAKEAWAY <= m.phase <= FOLLOW_THROUGH and t - m.last.t > GAP_MAX_S:
        _abandon(m, &now, &b.hands[0] if usable else &m.last_hands[0])
    if not usable:
        return
    cdef double dt = t - m.last.t if m.last.t == m.last.t else INFINITY
    m.last = now
    m.last_hands[0] = b.hands[0]
    m.last_hands[1] = b.hands[1]
    m.last_hands[2] = b.hands[2]
    # after a gap the old grip says nothing: start again from this frame
    cdef double alpha = 1.0 - exp(-dt / HAND_SMOOTH_S) if dt <= GAP_MAX_S else 1.0
    cdef int k
    for k in range(3):
        m.hands[k] += alpha * (b.hands[k] - m.hands[k])

    cdef double s = m.ref.body.torso if m.has_ref else b.torso
    cdef double w = 0.0 if convention == MEDIAPIPE_IMAGE else 1.0
    cdef double rise, gap, still_for
    # stillness of hands and hips, for address and finish; smoothed first, so that at
    # 120-240 FPS one jittery frame in the 0.3 s of an address does not re-anchor it
    cdef double settle = 1.0 - exp(-dt / STILL_SMOOTH_S) if dt <= GAP_MAX_S else 1.0
    for k in range(3):
        if dt <= GAP_MAX_S:
            m.settled_hands[k] += settle * (b.hands[k] - m.settled_hands[k])
            m.settled_hips[k] += settle * (b.hip_mid[k] - m.settled_hips[k])
        else:  # the first frame, or after a gap
            m.settled_hands[k] = b.hands[k]
            m.settled_hips[k] = b.hip_mid[k]
    if (m.anchor.t != m.anchor.t
            or _dist(m.settled_hands, m.anchor_hands, w) > STILL_RADIUS * s
            or _dist(m.settled_hips, m.anchor_hips, w) > STILL_RADIUS * s):
        for k in range(3):
            m.anchor_hands[k] = m.settled_hands[k]
            m.anchor_hips[k] = m.settled_hips[k]
        m.anchor = now
    still_for = t - m.anchor.t

    cdef int phase = m.phase
    if phase == FINISH:
        if _dist(b.hands, m.finish_hands, w) > FINISH_LEAVE * s:
            m.p_position = 0
            _enter(m, IDLE, &now)
        return
    if phase == IDLE:
        if still_for >= ADDRESS_STILL_S and _looks_like_address(b, w):
            _arm(m, b, &now, right_handed, convention)
        return

    if _hip_travel(m, b, w) > WALKED:
        _abandon(m, &now, b.hands)
        return
    rise = hands_rise(m)
    gap = _dist(m.hands, m.ref.body.hands, w) / m.ref.body.torso
    cdef double prev_t = m.prev_t, prev_rise = m.prev_rise, prev_gap = m.prev_gap
    m.prev_t = t
    m.prev_rise = rise
    m.prev_gap = gap

    # smoothed over a fixed time, so a higher frame rate's many noisy samples
    # do not cross the takeaway's turn more often
    if turn == turn:
        m.turn += (1.0 - exp(-dt / TURN_SMOOTH_S)) * (turn - m.turn)
    turn = m.turn
    if phase == SETUP:
        if gap < AT_ADDRESS and turn < ADDRESS_TURN:
            # still at address: keep refining the address pose
            m.refined = 1.0 - exp(-dt / ADDRESS_SMOOTH_S)
            blend_body(&m.ref.body, b, m.refined)
            make_reference(&m.ref.body, right_handed, convention, &m.ref)
            m.at_address = now
            m.at_address_gap = _dist(m.hands, m.ref.body.hands, w) / m.ref.body.torso
        elif gap > TAKEAWAY_START or turn > TAKEAWAY_TURN:
            # the swing starts from this address: settle the camera on it, once
            fit_camera(&m.ref, convention, m.forced_view)
            if gap > TAKEAWAY_START:
                _start_takeaway(m, &now, gap)
            else:
                m.takeaway = m.at_address   # the turn began where the shoulders left address
            _enter(m, TAKEAWAY, &m.takeaway)
        return

    if phase == TAKEAWAY:
        if rise > BACKSWING_RISE:
            m.p_position = 2
            m.top = now
            _extreme_start(&m.highest, t, rise, prev_t, prev_rise)
            _enter(m, BACKSWING, &now)
        elif gap < AT_ADDRESS and turn < ADDRESS_TURN:
            m.at_address = now
            m.at_address_gap = gap
            _enter(m, SETUP, &now)
        elif (still_for >= ADDRESS_STILL_S and (gap > READDRESS_GAP or turn < TAKEAWAY_TURN)
                and _looks_like_address(b, w)):
            # settled again: that "takeaway" was a step, a waggle or a forward press
            _arm(m, b, &now, right_handed, convention)
        elif t - m.takeaway.t > TAKEAWAY_MAX_S:
            _abandon(m, &now, b.hands)
        return

    if phase == BACKSWING:
        if m.p_position < 3 and _arm_level(b, LEAD_WRIST, LEAD_SHOULDER, s):
            m.p_position = 3
        if rise > m.highest.value:
            m.top = now
            _extreme_start(&m.highest, t, rise, prev_t, prev_rise)
            return
        _extreme_next(&m.highest, t, rise)
        if m.highest.value >= TOP_MIN_RISE and rise < m.highest.value - TOP_DROP:
            m.p_position = 4
            m.top_time = _vertex_time(&m.highest, True)
            _extreme_start(&m.lowest, NAN, INFINITY, NAN, NAN)
            _enter(m, TOP, &m.top)
        elif t - m.takeaway.t > BACKSWING_MAX_S:
            _abandon(m, &now, b.hands)
        return

    if phase == TOP:
        _enter(m, DOWNSWING, &now)
    if phase == TOP or phase == DOWNSWING:
        if m.p_position < 5 and not _arm_level(b, LEAD_WRIST, LEAD_SHOULDER, s):
            m.p_position = 5
        if m.p_position == 5 and rise < BACKSWING_RISE:
            m.p_position = 6
        # Impact: the hands' lowest pass near their address spot. The picture's x is the
        # noisier (hands crossing the body face-on, along the camera axis from behind), their
        # height the surer. A fast pass may leave the zone one frame after its lowest
        # sample: confirming it needs only a lowest pass in it.
        if rise < IMPACT_ZONE and gap < IMPACT_NEAR and rise < m.lowest.value:
            m.impact = now
            _extreme_start(&m.lowest, t, rise, prev_t, prev_rise)
        elif m.lowest.value < INFINITY:
            _extreme_next(&m.lowest, t, rise)
            if rise > m.lowest.value + IMPACT_PASS:
                m.p_position = 7
                m.swings += 1
                m.impact_time = _vertex_time(&m.lowest, False)
                _enter(m, IMPACT, &m.impact)
                return
        if t - m.top.t > DOWNSWING_MAX_S:
            _abandon(m, &now, b.hands)
        return

    if phase == IMPACT:
        _enter(m, FOLLOW_THROUGH, &now)
        return
    # FOLLOW_THROUGH
    if m.p_position == 7 and rise > BACKSWING_RISE:
        m.p_position = 8
    if m.p_position == 8 and _arm_level(b, TRAIL_WRIST, TRAIL_SHOULDER, s):
        m.p_position = 9
    if still_for >= FINISH_STILL_S and m.anchor.t - m.impact.t >= FINISH_MIN_S:
        _finish(m, &m.anchor, m.anchor_hands)
    elif t - m.impact.t > FOLLOW_MAX_S:
        _finish(m, &now, b.hands)
