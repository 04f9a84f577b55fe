# One frame of keypoints as the analysis reads it: y up, lead/trail sides, the KPI codes.
# Definitions only; frame.pyx reads bodies, camera.pyx fits a camera to one.

cdef enum:  # Convention
    WORLD_Y_UP = 0
    MEDIAPIPE_WORLD = 1
    MEDIAPIPE_IMAGE = 2

# The 14 body points the analysis reads, by role rather than by side.
cdef enum:  # Point
    HEAD = 0               # mean of MediaPipe's 11 face landmarks: steadier than the nose alone
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
    double p[14][3]        # y up; in mediapipe_image x and y are in image heights and z is
    bint ok[14]            # MediaPipe's depth on its own stretched scale
    double vis[14]
    double hands[3]        # centre of the grip
    double hip_mid[3]
    double shoulder_mid[3]
    double torso           # hip mid to shoulder mid (in the image plane for image landmarks)
    bint planar            # image landmarks: lengths are measured in the picture

cdef struct Grip:          # where the grip is, across frames that hide one wrist
    double offset[3]       # trail wrist minus lead wrist, smoothed
    bint learnt
    int anchor             # the wrist the grip is placed from: LEAD_WRIST, TRAIL_WRIST or -1
