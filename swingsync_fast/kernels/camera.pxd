# The camera a swing is filmed with, fitted once at address from image landmarks, and the
# per-frame turn estimate it allows. See camera.pyx.
from .body cimport Body

cdef enum:  # View
    VIEW_NONE = 0          # no address yet, or 3-D input without a camera
    FACE_ON = 1
    DOWN_THE_LINE = 2
    OBLIQUE = 3

cdef struct Camera:
    int view
    double angle           # radians from face-on (0) toward down-the-line (pi/2)
    double cos_a
    double sin_a
    double target_x        # +1: the target lies toward the image's right, -1: its left
    double ball_x          # the same for the ball
    double tilt            # spine tilt toward the ball at address, radians
    double cos_t
    double sin_t
    double torso           # torso length in image units (not foreshortened)
    double shoulder_width  # true widths of the two lines, image units
    double hip_width
    unsigned int measured  # bit k set: KPI k is measured from this view

cdef bint camera_fit(const Body* address, int forced_view, Camera* out) noexcept nogil
cdef void camera_for_world(const double* target, Camera* out) noexcept nogil
cdef double camera_turn(const Camera* cam, const double* now, const double* address, double width,
                        bint tilted, double handed) noexcept nogil
