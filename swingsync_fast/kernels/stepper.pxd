# One session's analysis state: a frame goes in, phase, KPIs and faults come out.
from .frame cimport Body, NUM_KPIS
from .phase cimport PhaseMachine, Marker
from .faults cimport FaultTracker, Peak

cdef struct SwingRecord:
    int number             # 1-based, counted at impact
    Marker takeaway
    Marker top
    Marker impact
    Marker finish
    double address_kpis[17]
    double top_kpis[17]
    double impact_kpis[17]
    Peak x_factor
    double top_time        # sub-frame estimates
    double impact_time
    double tempo

cdef class Kernel:
    cdef float[:, :, ::1] ring
    cdef float[:, ::1] kpi_ring
    cdef readonly int capacity
    cdef int convention
    cdef double aspect
    cdef bint right_handed
    cdef double min_visibility
    cdef double grip_offset[3]
    cdef double hands_prev[3]
    cdef double t_prev          # last usable frame, for hand speed
    cdef double t_last          # last frame of any kind, for ordering
    cdef double hand_speed
    cdef Body body
    cdef PhaseMachine machine
    cdef FaultTracker faults
    cdef SwingRecord record
    cdef double frame_kpis[17]

    cpdef int step(self, int slot, long frame, double t)
    cdef int _step(self, int slot, long frame, double t) noexcept nogil
    cdef int _after_machine(self, int flags) noexcept nogil
    cdef void _on_phase(self, PhaseMachine* m) noexcept nogil
