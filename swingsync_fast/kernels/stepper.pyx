# cython: language_level=3
"""The per-frame step over a session's preallocated ring buffer.

The Python side owns the buffers (numpy arrays) and writes each frame's
keypoints into its ring slot; ``step`` reads that slot, runs body ->
phase -> KPIs -> faults with the GIL released, and leaves its results in
the object and in the KPI ring. Results are read back through properties.
"""

from libc.math cimport exp, sqrt, NAN, INFINITY
from libc.string cimport memcpy
from .frame cimport (Body, Reference, read_body, compute_kpis, NUM_KPIS, X_FACTOR,
                     MEDIAPIPE_IMAGE)
from .phase cimport (PhaseMachine, Marker, machine_reset, machine_step, machine_close, hands_rise,
                     SETUP, TAKEAWAY, BACKSWING, TOP, DOWNSWING, IMPACT, FOLLOW_THROUGH, FINISH)
from .faults cimport (FaultTracker, NUM_FAULTS, peak_reset, peak_track, faults_begin, faults_top,
                      faults_step, faults_impact_frame, faults_judge_turn, faults_judge_weight, faults_judge_tempo)

import numpy as np
from . import tuning

cdef double HAND_SPEED_SMOOTH_S = tuning.HAND_SPEED_SMOOTH_S
cdef double GAP_MAX_S = tuning.GAP_MAX_S
cdef double IMAGE_TORSO_METRES = tuning.IMAGE_TORSO_METRES

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


cdef class Kernel:
    def __cinit__(self, float[:, :, ::1] ring, float[:, ::1] kpi_ring, int convention,
                  double aspect, bint right_handed, double min_visibility,
                  double[::1] limits, double[::1] spans, double tempo_low, double tempo_high):
        if ring.shape[1] != 33 or ring.shape[2] != 4:
            raise ValueError("ring must have shape (capacity, 33, 4)")
        if kpi_ring.shape[0] != ring.shape[0] or kpi_ring.shape[1] != NUM_KPIS:
            raise ValueError(f"kpi_ring must have shape ({ring.shape[0]}, {NUM_KPIS})")
        if not 0 <= convention <= MEDIAPIPE_IMAGE:
            raise ValueError(f"unknown coordinate convention code {convention}")
        self.ring = ring
        self.kpi_ring = kpi_ring
        self.capacity = ring.shape[0]
        self.convention = convention
        self.aspect = aspect
        self.right_handed = right_handed
        self.min_visibility = min_visibility
        self.set_thresholds(limits, spans, tempo_low, tempo_high)
        self.reset()

    def reset(self):
        """Forget everything about the stream (thresholds are kept)."""
        machine_reset(&self.machine)
        self.grip_offset[0] = 0.0
        self.grip_offset[1] = 0.0
        self.grip_offset[2] = 0.0
        self.t_prev = NAN
        self.t_last = -INFINITY
        self.hand_speed = 0.0
        self.record.number = 0
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

    cpdef int step(self, int slot, long frame, double t):
        """Analyse the frame in ring[slot]; return USABLE | PHASE_BEGAN | SWING_ENDED bits."""
        if not 0 <= slot < self.capacity:
            raise IndexError(f"slot {slot} outside the ring of {self.capacity}")
        cdef int flags = 0
        with nogil:
            flags = self._step(slot, frame, t)
        return flags

    cdef int _step(self, int slot, long frame, double t) noexcept nogil:
        cdef int flags = 0, i
        cdef bint usable
        cdef double dt, alpha, metres, rise
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
        usable = read_body(self.ring[slot], self.convention, self.aspect, self.right_handed,
                           self.min_visibility, self.grip_offset, &self.body)
        if usable:
            flags |= _USABLE
            if m.has_ref:
                metres = m.ref.metres_per_unit
            elif self.convention == MEDIAPIPE_IMAGE:
                metres = IMAGE_TORSO_METRES / self.body.torso
            else:
                metres = 1.0
            dt = t - self.t_prev
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

        machine_step(m, &self.body, usable, frame, t, slot, self.right_handed, self.convention)

        if usable:
            compute_kpis(&self.body, &m.ref, m.has_ref, self.hand_speed, self.frame_kpis)
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
            faults_step(&self.faults, self.frame_kpis, m.phase, m.p_position, rise, t - m.impact.t)
            peak_track(&self.record.x_factor,
                       self.frame_kpis[X_FACTOR] if BACKSWING <= m.phase <= IMPACT else NAN)
        return self._after_machine(flags)

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

    cdef void _on_phase(self, PhaseMachine* m) noexcept nogil:
        cdef int phase = m.event_phase
        cdef Body address
        cdef int i
        if phase == TAKEAWAY:
            address = m.ref.body
            compute_kpis(&address, &m.ref, True, 0.0, self.record.address_kpis)
            faults_begin(&self.faults, self.record.address_kpis)
            peak_reset(&self.record.x_factor)
            self.record.takeaway = m.takeaway
            self.record.tempo = NAN
        elif phase == TOP:
            self.record.top = m.top
            self.record.top_time = m.top_time
            faults_top(&self.faults, m.highest.value)
        elif phase == DOWNSWING:
            faults_judge_turn(&self.faults)
        elif phase == IMPACT:
            faults_impact_frame(&self.faults, self.record.impact_kpis)
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
        return {
            "number": r.number,
            "takeaway": (r.takeaway.frame, r.takeaway.t),
            "top": (r.top.frame, r.top_time),
            "impact": (r.impact.frame, r.impact_time),
            "finish": (r.finish.frame, r.finish.t),
            "tempo": r.tempo,
            "address_kpis": [r.address_kpis[i] for i in range(NUM_KPIS)],
            "top_kpis": [r.top_kpis[i] for i in range(NUM_KPIS)],
            "impact_kpis": [r.impact_kpis[i] for i in range(NUM_KPIS)],
            "peak_x_factor": r.x_factor.value if r.x_factor.value > -INFINITY else NAN,
            "severities": [self.faults.severity[i] for i in range(NUM_FAULTS)],
            # each rule's debounced peak metric (NaN = never measured): a player's baseline is built from these
            "metrics": [self.faults.peak[i].value if self.faults.peak[i].value > -INFINITY else NAN
                        for i in range(NUM_FAULTS)],
        }
