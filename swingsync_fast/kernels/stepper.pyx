# cython: language_level=3
"""The per-frame step over a session's preallocated ring buffers.

The Python side owns the buffers (numpy arrays) and writes each frame's
keypoints into its ring slot (and, when the client sends them, MediaPipe's
world landmarks into the same slot of the world ring); ``step`` reads that
slot, runs body -> phase -> KPIs -> faults with the GIL released, and leaves
its results in the object and in the KPI ring. Results are read back through
properties.
"""

from libc.math cimport exp, sqrt, NAN, INFINITY
from libc.string cimport memcpy
from .body cimport (Body, Grip, NUM_KPIS, SHOULDER_TURN, HIP_TURN, X_FACTOR, HEAD_SWAY, HEAD_LIFT,
                    PELVIS_SWAY, PELVIS_THRUST, HAND_HEIGHT, MEDIAPIPE_WORLD, MEDIAPIPE_IMAGE)
from .frame cimport (Reference, read_body, grip_reset, make_reference, blend_body, compute_kpis,
                     shoulder_turn, other_hand, swap_sides, fit_camera)
from .camera cimport Camera, VIEW_NONE, FACE_ON, OBLIQUE
from .phase cimport (PhaseMachine, Marker, machine_reset, machine_step, machine_close, machine_rearm,
                     hands_rise,
                     IDLE, SETUP, TAKEAWAY, BACKSWING, TOP, DOWNSWING, IMPACT, FOLLOW_THROUGH, FINISH)
from .faults cimport (FaultTracker, NUM_FAULTS, held_reset, held_track, faults_begin, faults_top,
                      faults_step, faults_impact_frame, faults_judge_turn, faults_judge_weight,
                      faults_judge_tempo)

import numpy as np
from ..catalog import KPI_NAMES
from . import tuning

cdef double HAND_SPEED_SMOOTH_S = tuning.HAND_SPEED_SMOOTH_S
cdef double GAP_MAX_S = tuning.GAP_MAX_S
cdef double HANDS_GUESSED_MIN = tuning.HANDS_GUESSED_MIN
cdef double HANDEDNESS_BACKSWING = tuning.HANDEDNESS_BACKSWING
cdef double IMAGE_TORSO_METRES = tuning.IMAGE_TORSO_METRES
cdef double GRIP_OFFSET_S = tuning.GRIP_OFFSET_S
cdef double Z_MIN_SIN = tuning.Z_MIN_SIN
cdef double RADIAN = 0.017453292519943295


def _mask(names):
    cdef unsigned int m = 0
    for name in names:
        m |= (<unsigned int>1) << <int>KPI_NAMES.index(name)
    return m


cdef unsigned int WORLD_MASK = _mask(tuning.WORLD_KPIS)
# KPIs measured against the address pose: meaningless once a swing is over and before the next
cdef unsigned int ADDRESS_MASK = _mask(("shoulder_turn", "hip_turn", "x_factor", "head_sway",
                                        "head_lift", "pelvis_sway", "pelvis_thrust", "hand_height"))

# step() flags
USABLE = 1
PHASE_BEGAN = 2
SWING_ENDED = 4
OUT_OF_ORDER = 8
HAS_FAULTS = 16      # the swing in progress (or just ended) has a fault

cdef int _USABLE = USABLE, _PHASE_BEGAN = PHASE_BEGAN, _SWING_ENDED = SWING_ENDED
cdef int _OUT_OF_ORDER = OUT_OF_ORDER, _HAS_FAULTS = HAS_FAULTS


cdef inline double _grip_travel(const double* a, const double* b, int convention) noexcept nogil:
    """Distance the grip moved; MediaPipe's image depth is too noisy to count."""
    cdef double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2]
    if convention == MEDIAPIPE_IMAGE:
        dz = 0.0
    return sqrt(dx * dx + dy * dy + dz * dz)


cdef inline void _turn_through(double* k) noexcept nogil:
    """From impact on, a turn reads toward the target: the turn through to the finish."""
    k[SHOULDER_TURN] = -k[SHOULDER_TURN]
    k[HIP_TURN] = -k[HIP_TURN]
    k[X_FACTOR] = -k[X_FACTOR]


cdef dict _camera_dict(const Camera* c):
    return {"view": c.view, "angle": c.angle / RADIAN, "target_x": c.target_x, "ball_x": c.ball_x,
            "tilt": c.tilt / RADIAN, "measured": c.measured}


cdef inline bint _toward_target(const PhaseMachine* m) noexcept nogil:
    """The hands went toward the target side of the picture (tuning.HANDEDNESS_BACKSWING)."""
    return ((m.hands[0] - m.ref.body.hands[0]) * m.ref.camera.target_x
            > HANDEDNESS_BACKSWING * m.ref.body.torso)


cdef class Kernel:
    def __cinit__(self, float[:, :, ::1] ring, float[:, ::1] kpi_ring, int convention,
                  double aspect, bint right_handed, double min_visibility,
                  double[::1] limits, double[::1] spans, double tempo_low, double tempo_high,
                  float[:, :, ::1] world_ring=None, int camera_view=VIEW_NONE):
        if ring.shape[1] != 33 or ring.shape[2] != 4:
            raise ValueError("ring must have shape (capacity, 33, 4)")
        if kpi_ring.shape[0] != ring.shape[0] or kpi_ring.shape[1] != NUM_KPIS:
            raise ValueError(f"kpi_ring must have shape ({ring.shape[0]}, {NUM_KPIS})")
        if world_ring is not None and (world_ring.shape[0] != ring.shape[0]
                                       or world_ring.shape[1] != 33 or world_ring.shape[2] != 4):
            raise ValueError(f"world_ring must have shape ({ring.shape[0]}, 33, 4)")
        if not 0 <= convention <= MEDIAPIPE_IMAGE:
            raise ValueError(f"unknown coordinate convention code {convention}")
        if not VIEW_NONE <= camera_view <= OBLIQUE:
            raise ValueError(f"unknown camera view code {camera_view}")
        self.ring = ring
        self.world_ring = world_ring
        self.kpi_ring = kpi_ring
        self.capacity = ring.shape[0]
        self.convention = convention
        self.aspect = aspect
        self.right_handed_configured = right_handed
        self.min_visibility = min_visibility
        self.set_thresholds(limits, spans, tempo_low, tempo_high)
        self.reset()
        self.machine.forced_view = camera_view if convention == MEDIAPIPE_IMAGE else VIEW_NONE

    def reset(self):
        """Forget everything about the stream (thresholds and camera view are kept)."""
        cdef int forced = self.machine.forced_view
        machine_reset(&self.machine)
        self.machine.forced_view = forced
        self.right_handed = self.right_handed_configured
        grip_reset(&self.grip)
        grip_reset(&self.world_grip)
        self.world_has_ref = False
        self.t_prev = NAN
        self.t_last = -INFINITY
        self.hand_speed = 0.0
        self.record.number = 0
        self.record.camera.view = VIEW_NONE
        self.record.measured = 0
        self.record.right_handed = self.right_handed
        cdef double nothing[17]
        cdef int i
        for i in range(NUM_KPIS):
            nothing[i] = NAN
            self.frame_kpis[i] = NAN
        faults_begin(&self.faults, nothing)

    def set_thresholds(self, double[::1] limits, double[::1] spans, double tempo_low,
                       double tempo_high):
        cdef int i
        if limits.shape[0] != NUM_FAULTS or spans.shape[0] != NUM_FAULTS:
            raise ValueError(f"limits and spans need {NUM_FAULTS} values")
        for i in range(NUM_FAULTS):
            if not spans[i] > 0.0:
                raise ValueError("every span must be positive")
        if not 0.0 < tempo_low < tempo_high:
            raise ValueError("need 0 < tempo_low < tempo_high")
        for i in range(NUM_FAULTS):
            self.faults.limit[i] = limits[i]
            self.faults.span[i] = spans[i]
        self.faults.tempo_low = tempo_low
        self.faults.tempo_high = tempo_high

    cpdef int step(self, int slot, long frame, double t, bint world=False):
        """Analyse the frame in ring[slot] (and world_ring[slot] if ``world``); return step() flags."""
        if not 0 <= slot < self.capacity:
            raise IndexError(f"slot {slot} outside the ring of {self.capacity}")
        if world and self.world_ring is None:
            raise ValueError("this kernel has no world ring")
        cdef int flags = 0
        with nogil:
            flags = self._step(slot, frame, t, world)
        return flags

    cdef int _step(self, int slot, long frame, double t, bint world) noexcept nogil:
        cdef int flags = 0, i
        cdef bint usable, world_usable = False
        cdef double dt, grip_alpha, alpha, metres, rise, turn, hands_floor
        cdef unsigned int world_mask
        cdef PhaseMachine* m = &self.machine
        if not (t > self.t_last) or t != t or t == INFINITY:
            # a repeated or backwards timestamp would break every rate
            for i in range(NUM_KPIS):
                self.frame_kpis[i] = NAN
                self.kpi_ring[slot, i] = NAN
            m.event_phase = -1
            m.swing_done = False
            return _OUT_OF_ORDER
        self.t_last = t
        dt = t - self.t_prev
        grip_alpha = 1.0 - exp(-dt / GRIP_OFFSET_S) if dt > 0.0 and dt <= GAP_MAX_S else 1.0
        # until the hands are on their way up they rest on the grip, where a guess serves
        hands_floor = min(HANDS_GUESSED_MIN, self.min_visibility) if m.phase <= TAKEAWAY \
            else self.min_visibility
        usable = self._read(slot, world, hands_floor, grip_alpha, &world_usable)
        if usable:
            flags |= _USABLE
            if m.has_ref:
                metres = m.ref.metres_per_unit
            elif self.convention == MEDIAPIPE_IMAGE:
                metres = IMAGE_TORSO_METRES / self.body.torso
            else:
                metres = 1.0
            if dt > 0.0 and dt <= GAP_MAX_S:
                alpha = 1.0 - exp(-dt / HAND_SPEED_SMOOTH_S)
                self.hand_speed += alpha * (
                    _grip_travel(self.body.hands, self.hands_prev, self.convention) * metres / dt
                    - self.hand_speed)
            else:
                self.hand_speed = 0.0
            self.hands_prev[0] = self.body.hands[0]
            self.hands_prev[1] = self.body.hands[1]
            self.hands_prev[2] = self.body.hands[2]
            self.t_prev = t

        turn = NAN
        if usable and m.has_ref and (m.phase == SETUP or m.phase == TAKEAWAY):
            turn = shoulder_turn(&self.body, &m.ref, self.right_handed, self.convention)
        machine_step(m, &self.body, usable, frame, t, slot, self.right_handed, self.convention, turn)
        if m.armed and self.convention == MEDIAPIPE_IMAGE and other_hand(&m.ref.body):
            # a left-handed golfer taken for a right-handed one, or a mirrored video: the swing
            # is read the other way round from this address on
            self._other_hand()
            usable = self._read(slot, world, hands_floor, grip_alpha, &world_usable)
            machine_rearm(m, &self.body, frame, t, slot, self.right_handed, self.convention)
        elif (m.event_phase == BACKSWING and self.convention == MEDIAPIPE_IMAGE
              and m.ref.camera.view == FACE_ON and _toward_target(m)):
            # face-on only the backswing tells the hand: this swing, from its address, is the other's
            self._swap_hands(m)
            usable = self._read(slot, world, hands_floor, grip_alpha, &world_usable)
        self._world_address(world_usable)

        if usable:
            compute_kpis(&self.body, &m.ref, m.has_ref, self.hand_speed, self.right_handed,
                         self.convention, self.frame_kpis)
            if world_usable and self.world_has_ref and m.has_ref and m.ref.camera.sin_a >= Z_MIN_SIN:
                # World landmarks turn the lines where the picture's turn leans on z
                # (tuning.WORLD_KPIS); they never stand in for an axis the view cannot see.
                compute_kpis(&self.world_body, &self.world_ref, True, 0.0, self.right_handed,
                             MEDIAPIPE_WORLD, self.world_kpis)
                world_mask = WORLD_MASK & m.ref.camera.measured
                for i in range(NUM_KPIS):
                    if (world_mask >> i) & 1 and self.world_kpis[i] == self.world_kpis[i]:
                        self.frame_kpis[i] = self.world_kpis[i]
            if m.phase == IDLE:
                for i in range(NUM_KPIS):
                    if (ADDRESS_MASK >> i) & 1:
                        self.frame_kpis[i] = NAN
            elif m.phase >= IMPACT:
                _turn_through(self.frame_kpis)
        else:
            for i in range(NUM_KPIS):
                self.frame_kpis[i] = NAN
        for i in range(NUM_KPIS):
            self.kpi_ring[slot, i] = <float>self.frame_kpis[i]

        # KPIs of the top and impact candidates, kept now: their ring slots may be
        # overwritten before the event is confirmed
        if m.top.t == t and m.phase == BACKSWING:
            memcpy(self.record.top_kpis, self.frame_kpis, sizeof(self.frame_kpis))
        if m.impact.t == t and m.phase == DOWNSWING:
            memcpy(self.record.impact_kpis, self.frame_kpis, sizeof(self.frame_kpis))
        if m.event_phase >= 0:
            flags |= _PHASE_BEGAN
            self._on_phase(m)
        if usable and TAKEAWAY <= m.phase <= FOLLOW_THROUGH:
            rise = hands_rise(m)
            # the rules read turns away from the target, as in the backswing
            memcpy(self.world_kpis, self.frame_kpis, sizeof(self.frame_kpis))
            if m.phase >= IMPACT:
                _turn_through(self.world_kpis)
            faults_step(&self.faults, self.world_kpis, t, m.phase, m.p_position, rise,
                        t - m.impact.t)
            held_track(&self.record.x_factor, t,
                       self.world_kpis[X_FACTOR] if BACKSWING <= m.phase <= IMPACT else NAN)
        return self._after_machine(flags)

    cdef void _other_hand(self) noexcept nogil:
        """Read the golfer with the other hand from now on; the grips learnt so far were the other's."""
        self.right_handed = not self.right_handed
        grip_reset(&self.grip)
        grip_reset(&self.world_grip)

    cdef void _swap_hands(self, PhaseMachine* m) noexcept nogil:
        """Read the swing in progress the other way round, from its address on."""
        self._other_hand()
        swap_sides(&m.ref.body)
        make_reference(&m.ref.body, self.right_handed, self.convention, &m.ref)
        fit_camera(&m.ref, self.convention, m.forced_view)
        if self.world_has_ref:
            swap_sides(&self.world_ref.body)
            self.world_has_ref = make_reference(&self.world_ref.body, self.right_handed, MEDIAPIPE_WORLD,
                                                &self.world_ref)
        self._begin_swing(m)

    cdef bint _read(self, int slot, bint world, double hands_floor, double grip_alpha,
                    bint* world_usable) noexcept nogil:
        """Read the slot's image (and world) landmarks into the bodies; whether the image one is usable."""
        if world and self.convention == MEDIAPIPE_IMAGE:
            world_usable[0] = read_body(self.world_ring[slot], MEDIAPIPE_WORLD, 1.0, self.right_handed,
                                        self.min_visibility, hands_floor, grip_alpha, &self.world_grip,
                                        &self.world_body)
        return read_body(self.ring[slot], self.convention, self.aspect, self.right_handed,
                         self.min_visibility, hands_floor, grip_alpha, &self.grip, &self.body)

    cdef void _world_address(self, bint usable) noexcept nogil:
        """Keep the world landmarks' address in step with the image one."""
        cdef PhaseMachine* m = &self.machine
        if m.armed:
            self.world_has_ref = usable and make_reference(
                &self.world_body, self.right_handed, MEDIAPIPE_WORLD, &self.world_ref)
        elif m.refined > 0.0 and usable and self.world_has_ref:
            blend_body(&self.world_ref.body, &self.world_body, m.refined)
            make_reference(&self.world_ref.body, self.right_handed, MEDIAPIPE_WORLD, &self.world_ref)

    def close(self):
        """End of stream: finish a swing that is past impact. Returns step() flags."""
        machine_close(&self.machine)
        return self._after_machine(0)

    cdef int _after_machine(self, int flags) noexcept nogil:
        cdef PhaseMachine* m = &self.machine
        cdef int i
        if m.swing_done:
            if m.event_phase == FINISH and not flags & _PHASE_BEGAN:
                flags |= _PHASE_BEGAN
            faults_judge_weight(&self.faults)
            self.record.finish = m.finish
            flags |= _SWING_ENDED
        for i in range(NUM_FAULTS):
            if self.faults.severity[i] > 0.0:
                return flags | _HAS_FAULTS
        return flags

    cdef void _begin_swing(self, PhaseMachine* m) noexcept nogil:
        """A swing's record starts from its address."""
        cdef Body address = m.ref.body
        compute_kpis(&address, &m.ref, True, 0.0, self.right_handed, self.convention,
                     self.record.address_kpis)
        faults_begin(&self.faults, self.record.address_kpis)
        held_reset(&self.record.x_factor)
        self.record.takeaway = m.takeaway
        self.record.tempo = NAN
        self.record.camera = m.ref.camera
        self.record.measured = m.ref.camera.measured
        self.record.right_handed = self.right_handed

    cdef void _on_phase(self, PhaseMachine* m) noexcept nogil:
        cdef int phase = m.event_phase
        if phase == TAKEAWAY:
            self._begin_swing(m)
        elif phase == TOP:
            self.record.top = m.top
            self.record.top_time = m.top_time
            faults_top(&self.faults, m.highest.value)
        elif phase == DOWNSWING:
            faults_judge_turn(&self.faults)
        elif phase == IMPACT:
            faults_impact_frame(&self.faults, self.record.impact_kpis, m.impact.t)
            _turn_through(self.record.impact_kpis)   # the impact frame was read in the downswing
            self.record.impact = m.impact
            self.record.number = m.swings
            self.record.impact_time = m.impact_time
            self.record.tempo = ((m.top_time - m.takeaway.t) / (m.impact_time - m.top_time)
                                 if m.impact_time > m.top_time else NAN)
            faults_judge_tempo(&self.faults, self.record.tempo)

    # --- results of the last step -------------------------------------------------

    @property
    def phase(self):
        return self.machine.phase

    @property
    def p_position(self):
        return self.machine.p_position

    @property
    def swings(self):
        """Swings counted so far (at impact)."""
        return self.machine.swings

    @property
    def has_address(self):
        return self.machine.has_ref

    @property
    def camera_view(self):
        """The view code of the address in force (camera.pxd View; 0 before an address)."""
        return self.machine.ref.camera.view if self.machine.has_ref else VIEW_NONE

    def camera(self):
        """The address's camera as plain values, or None before an address."""
        if not self.machine.has_ref:
            return None
        return _camera_dict(&self.machine.ref.camera)

    @property
    def event(self):
        """(phase, frame, timestamp) of the phase that began on the last step, or None."""
        if self.machine.event_phase < 0:
            return None
        return (self.machine.event_phase, self.machine.event.frame, self.machine.event.t)

    def kpis(self):
        """The last step's KPIs as a float64 array (NaN = not measurable)."""
        return np.asarray(<double[:NUM_KPIS]> self.frame_kpis).copy()

    def severities(self, double[::1] out):
        """Copy the current swing's fault severities (0 = not seen) into ``out``."""
        if out.shape[0] != NUM_FAULTS:
            raise ValueError(f"out must have shape ({NUM_FAULTS},)")
        cdef int i
        for i in range(NUM_FAULTS):
            out[i] = self.faults.severity[i]

    def fault_severity(self, int fault):
        if not 0 <= fault < NUM_FAULTS:
            raise IndexError(f"fault {fault} outside 0..{NUM_FAULTS - 1}")
        return self.faults.severity[fault]

    def swing_record(self):
        """The swing that ended on the last step, as plain Python values."""
        r = &self.record
        camera = _camera_dict(&r.camera)
        camera["measured"] = r.measured
        return {
            "number": r.number,
            "takeaway": (r.takeaway.frame, r.takeaway.t),
            "top": (r.top.frame, r.top_time),
            "impact": (r.impact.frame, r.impact_time),
            "finish": (r.finish.frame, r.finish.t),
            "tempo": r.tempo,
            "right_handed": r.right_handed,
            "address_kpis": [r.address_kpis[i] for i in range(NUM_KPIS)],
            "top_kpis": [r.top_kpis[i] for i in range(NUM_KPIS)],
            "impact_kpis": [r.impact_kpis[i] for i in range(NUM_KPIS)],
            "peak_x_factor": r.x_factor.value if r.x_factor.value > -INFINITY else NAN,
            "severities": [self.faults.severity[i] for i in range(NUM_FAULTS)],
            # each rule's held peak metric (NaN = never measured): a player's baseline is built from these
            "metrics": [self.faults.peak[i].value if self.faults.peak[i].value > -INFINITY else NAN
                        for i in range(NUM_FAULTS)],
            "camera": camera,
        }
