# One session's analysis state: a frame goes in, phase, KPIs and faults come out.
from .body cimport Body, Grip, NUM_KPIS
from .frame cimport Reference
from .camera cimport Camera
from .phase cimport PhaseMachine, Marker
from .faults cimport FaultTracker, Held

cdef struct SwingRecord:
    int number             # 1-based, counted at impact
    Marker takeaway
    Marker top
    Marker impact
    Marker finish
    double address_kpis[17]
    double top_kpis[17]
    double impact_kpis[17]
    Held x_factor
    double top_time        # sub-frame estimates
    double impact_time
    double tempo
    Camera camera          # as settled at the takeaway
    unsigned int measured  # KPIs measured in this swing: the view's, and the world landmarks'
    bint right_handed      # the hand the swing was read with

cdef class Kernel:
    cdef float[:, :, ::1] ring
    cdef float[:, :, ::1] world_ring
    cdef float[:, ::1] kpi_ring
    cdef readonly int capacity
    cdef int convention
    cdef double aspect
    cdef readonly bint right_handed  # the configured hand until an address says otherwise
    cdef bint right_handed_configured
    cdef double min_visibility
    cdef Grip grip
    cdef Grip world_grip
    cdef double hands_prev[3]
    cdef double t_prev          # last usable frame, for hand speed and the grip
    cdef double t_last          # last frame of any kind, for ordering
    cdef double hand_speed
    cdef Body body
    cdef Body world_body
    cdef Reference world_ref    # the address in world landmarks, beside the image one
    cdef bint world_has_ref
    cdef PhaseMachine machine
    cdef FaultTracker faults
    cdef SwingRecord record
    cdef double frame_kpis[17]
    cdef double world_kpis[17]

    cpdef int step(self, int slot, long frame, double t, bint world=*)
    cdef int _step(self, int slot, long frame, double t, bint world) noexcept nogil
    cdef bint _read(self, int slot, bint world, double hands_floor, double grip_alpha,
                    bint* world_usable) noexcept nogil
    cdef void _world_address(self, bint usable) noexcept nogil
    cdef int _after_machine(self, int flags) noexcept nogil
    cdef void _on_phase(self, PhaseMachine* m) noexcept nogil
    cdef void _begin_swing(self, PhaseMachine* m) noexcept nogil
    cdef void _other_hand(self) noexcept nogil
    cdef void _swap_hands(self, PhaseMachine* m) noexcept nogil
