# Fault rules: per-frame metrics, each debounced over its phase window.

cdef enum:  # Fault
    SWAY = 0
    SLIDE = 1
    EARLY_EXTENSION = 2
    LOSS_OF_POSTURE = 3
    REVERSE_SPINE = 4
    INSUFFICIENT_SHOULDER_TURN = 5
    CHICKEN_WING = 6
    BENT_LEAD_ARM = 7
    CASTING = 8
    HEAD_MOVEMENT = 9
    TRAIL_KNEE_STRAIGHTENING = 10
    HANGING_BACK = 11
    POOR_TEMPO = 12
    NUM_FAULTS = 13

cdef enum:
    HOLD_SAMPLES = 32      # the longest run a Held keeps (a hold at up to ~600 FPS)

cdef struct Held:          # the largest value a metric held for FAULT_HOLD_S (a run's median)
    double value           # -inf until a run of frames spanned the hold
    double t[32]           # the current run of frames, a ring (newest at head)
    double v[32]
    int head
    int count              # 0: the run is broken (outside the window, or not measured)

cdef struct FaultTracker:
    Held peak[13]
    double severity[13]    # 0 = not seen in this swing
    bint judged[13]        # a "falls short" rule has been decided
    double limit[13]
    double span[13]        # how far past the limit severity reaches 1
    double tempo_low
    double tempo_high
    double address_spine_tilt
    double address_trail_knee
    Held top_wrist_hinge   # the hinge set at the top (held peak of the late backswing)
    double top_rise

cdef void held_reset(Held* h) noexcept nogil
cdef void held_track(Held* h, double t, double value) noexcept nogil
cdef void faults_begin(FaultTracker* f, const double* address_kpis) noexcept nogil
cdef void faults_top(FaultTracker* f, double top_rise) noexcept nogil
cdef void faults_step(FaultTracker* f, const double* kpis, double t, int phase, int p_position,
                      double rise, double since_impact) noexcept nogil
cdef void faults_impact_frame(FaultTracker* f, const double* kpis, double t) noexcept nogil
cdef void faults_judge_turn(FaultTracker* f) noexcept nogil
cdef void faults_judge_weight(FaultTracker* f) noexcept nogil
cdef void faults_judge_tempo(FaultTracker* f, double tempo) noexcept nogil
