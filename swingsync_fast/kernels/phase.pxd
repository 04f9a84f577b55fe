# The causal swing phase state machine and its address reference.
from .body cimport Body
from .frame cimport Reference

cdef enum:  # Phase
    IDLE = 0
    SETUP = 1
    TAKEAWAY = 2
    BACKSWING = 3
    TOP = 4
    DOWNSWING = 5
    IMPACT = 6
    FOLLOW_THROUGH = 7
    FINISH = 8

cdef struct Marker:        # a frame the machine points back to
    long frame
    double t
    int slot

cdef struct Extremum:      # a peak or trough of a sampled signal, with its neighbours
    double t               # sample time of the extreme sample
    double value
    double before_t        # the sample just before it
    double before
    double after_t         # the sample just after it (NaN until one arrives)
    double after

cdef struct PhaseMachine:
    int phase
    int p_position         # 0 = none, 1..10 = P1..P10
    bint has_ref
    Reference ref
    double t_phase         # when the current phase began
    Marker last            # last usable frame
    double last_hands[3]   # and its grip centre
    double hands[3]        # grip centre, lightly smoothed over time against jitter
    # stillness: both points, smoothed, stay within a radius of where they settled
    double settled_hands[3]
    double settled_hips[3]
    double anchor_hands[3]
    double anchor_hips[3]
    Marker anchor          # when they settled
    double finish_hands[3]
    # the swing being tracked
    Marker at_address      # last frame with the hands at their address spot
    double at_address_gap  # and how far from it they were then
    Marker takeaway
    Marker top
    Marker impact
    Marker finish
    Extremum highest       # hands' rise above address in the backswing, torso lengths
    Extremum lowest        # hands' rise near their address spot in the downswing, torso lengths
    double top_time        # sub-frame estimates of the top and impact
    double impact_time
    double prev_t          # the previous usable frame's time, rise and gap
    double prev_rise
    double prev_gap
    int swings             # swings counted (at impact)
    int forced_view        # the camera view the config fixes (VIEW_NONE: detect it)
    # what the last step did
    int event_phase        # phase that began on this step, -1 = none
    Marker event
    bint swing_done        # the swing ended (finish reached) on this step
    bint armed             # a new address was taken on this step
    double refined         # the address pose moved toward this frame by this much (0: not)
    double turn            # shoulder turn from the address, smoothed over time against jitter

cdef void machine_reset(PhaseMachine* m) noexcept nogil
cdef void machine_step(PhaseMachine* m, const Body* b, bint usable, long frame, double t, int slot,
                       bint right_handed, int convention, double turn) noexcept nogil
cdef void machine_close(PhaseMachine* m) noexcept nogil
cdef void machine_rearm(PhaseMachine* m, const Body* b, long frame, double t, int slot,
                       bint right_handed, int convention) noexcept nogil
cdef double hands_rise(const PhaseMachine* m) noexcept nogil
