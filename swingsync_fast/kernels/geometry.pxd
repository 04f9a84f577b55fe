# Small vector helpers, inlined into every kernel that cimports them.
from libc.math cimport sqrt, acos, NAN


cdef inline double degrees(double radians) noexcept nogil:
    return radians * 57.29577951308232


cdef inline double dot3(const double* a, const double* b) noexcept nogil:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


cdef inline double norm3(const double* a) noexcept nogil:
    return sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


cdef inline void sub3(const double* a, const double* b, double* out) noexcept nogil:
    out[0] = a[0] - b[0]
    out[1] = a[1] - b[1]
    out[2] = a[2] - b[2]


cdef inline void mid3(const double* a, const double* b, double* out) noexcept nogil:
    out[0] = 0.5 * (a[0] + b[0])
    out[1] = 0.5 * (a[1] + b[1])
    out[2] = 0.5 * (a[2] + b[2])


cdef inline double dist3(const double* a, const double* b) noexcept nogil:
    cdef double d[3]
    sub3(a, b, d)
    return norm3(d)


cdef inline double angle_at(const double* a, const double* b, const double* c) noexcept nogil:
    """Angle ABC in degrees; NaN when either arm has zero length."""
    cdef double u[3]
    cdef double v[3]
    sub3(a, b, u)
    sub3(c, b, v)
    cdef double nu = norm3(u), nv = norm3(v)
    if nu < 1e-9 or nv < 1e-9:
        return NAN
    cdef double cosang = dot3(u, v) / (nu * nv)
    if cosang > 1.0:
        cosang = 1.0
    elif cosang < -1.0:
        cosang = -1.0
    return degrees(acos(cosang))


cdef inline double wrap_degrees(double a) noexcept nogil:
    """Wrap into (-180, 180]."""
    while a > 180.0:
        a -= 360.0
    while a <= -180.0:
        a += 360.0
    return a
