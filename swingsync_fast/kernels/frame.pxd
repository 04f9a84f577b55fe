# Per-frame maths: keypoints -> body points -> the address reference -> KPIs.
from .body cimport Body, Grip
from .camera cimport Camera

cdef struct Reference:
    Body body              # the address pose (smoothed while the golfer is still)
    double target[3]       # horizontal unit vector, trail side to lead side (3-D input)
    double ball[3]         # horizontal unit vector toward the ball
    double shoulder_angle  # shoulder line direction at address, radians in (target, ball)
    double hip_angle
    double metres_per_unit
    int foot               # the ankle travel is measured from (-1: none seen at address)
    Camera camera          # how image landmarks see this golfer (view NONE for 3-D input)

cdef bint read_body(const float[:, ::1] kp, int convention, double aspect, bint lead_is_left,
                    double min_visibility, double hands_floor, double grip_alpha, Grip* grip,
                    Body* out) noexcept nogil
cdef void grip_reset(Grip* grip) noexcept nogil
cdef bint other_hand(const Body* b) noexcept nogil
cdef void swap_sides(Body* b) noexcept nogil
cdef bint make_reference(Body* body, bint right_handed, int convention, Reference* out) noexcept nogil
cdef bint fit_camera(Reference* ref, int convention, int forced_view) noexcept nogil
cdef void blend_body(Body* acc, const Body* b, double alpha) noexcept nogil
cdef double shoulder_turn(const Body* b, const Reference* ref, bint right_handed,
                         int convention) noexcept nogil
cdef void compute_kpis(const Body* b, const Reference* ref, bint has_ref, double hand_speed,
                       bint right_handed, int convention, double* out) noexcept nogil
