# One frame of keypoints in the analysis frame: y up, lead/trail sides,
# the address reference it is measured against, and the per-frame KPIs.

cdef enum:  # Convention
    WORLD_Y_UP = 0
    MEDIAPIPE_WORLD = 1
    MEDIAPIPE_IMAGE = 2

# The 14 body points the analysis reads, by role rather than by side.
cdef enum:  # Point
    NOSE = 0
    LEAD_SHOULDER = 1
    TRAIL_SHOULDER = 2
    LEAD_ELBOW = 3
    TRAIL_ELBOW = 4
    LEAD_WRIST = 5
    TRAIL_WRIST = 6
    LEAD_INDEX = 7
    LEAD_HIP = 8
    TRAIL_HIP = 9
    LEAD_KNEE = 10
    TRAIL_KNEE = 11
    LEAD_ANKLE = 12
    TRAIL_ANKLE = 13
    NUM_POINTS = 14

cdef enum:  # Kpi
    SHOULDER_TURN = 0
    HIP_TURN = 1
    X_FACTOR = 2
    SPINE_TILT = 3
    SIDE_BEND = 4
    LEAD_ELBOW_ANGLE = 5
    TRAIL_ELBOW_ANGLE = 6
    LEAD_KNEE_ANGLE = 7
    TRAIL_KNEE_ANGLE = 8
    HEAD_SWAY = 9
    HEAD_LIFT = 10
    PELVIS_SWAY = 11
    PELVIS_THRUST = 12
    WRIST_HINGE = 13
    HAND_HEIGHT = 14
    HAND_SPEED = 15
    WEIGHT_SHIFT = 16
    NUM_KPIS = 17

cdef struct Body:
    double p[14][3]
    bint ok[14]
    double hands[3]        # centre of the grip (mean of the wrists)
    double hip_mid[3]
    double shoulder_mid[3]
    double feet[3]         # ankle midpoint: the fixed point of a swing (MediaPipe world
    bint feet_ok           # coordinates are hip-centred, so hips cannot be the origin)
    double torso           # hip mid to shoulder mid, in input units

cdef struct Reference:
    Body body              # the address pose (smoothed while the golfer is still)
    double target[3]       # horizontal unit vector, trail side to lead side
    double ball[3]         # horizontal unit vector toward the ball
    double shoulder_angle  # shoulder line direction at address, radians in (target, ball)
    double hip_angle
    double metres_per_unit

cdef bint read_body(const float[:, ::1] kp, int convention, double aspect, bint lead_is_left,
                    double min_visibility, double* grip_offset, Body* out) noexcept nogil
cdef bint make_reference(Body* body, bint right_handed, int convention, Reference* out) noexcept nogil
cdef void blend_body(Body* acc, const Body* b, double alpha) noexcept nogil
cdef void compute_kpis(const Body* b, const Reference* ref, bint has_ref, double hand_speed,
                       double* out) noexcept nogil
