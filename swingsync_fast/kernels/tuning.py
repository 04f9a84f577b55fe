"""Constants of the phase machine, shared by the Cython kernel and the numpy reference.

Lengths are in torso lengths (hip centre to shoulder centre at address),
times in seconds, so the machine is the same in metres or image units and
at any frame rate.
"""

STILL_RADIUS = 0.10  # hands/hips may wander this much and still be "still"
ADDRESS_STILL_S = 0.3  # stillness that arms the machine
STILL_SMOOTH_S = 0.05  # time constant of the hands and hips the stillness test reads
HANDS_LOW = -0.6  # address: hands at least this far below the shoulders
GRIP_MAX = 0.8  # address: wrists closer than this hold one club (face-on real addresses read up to 0.68)
ADDRESS_SMOOTH_S = 0.25  # time constant of the address pose average
AT_ADDRESS = 0.05  # hands this close to their address spot are "at address"
ADDRESS_TURN_DEG = 2.5  # ... with the shoulders turned back less than this
TAKEAWAY_TURN_DEG = 6.0  # shoulders turned back this far start a takeaway (hands or not)
TAKEAWAY_START = 0.12  # hands this far from address start a takeaway
TAKEAWAY_BACKTRACK = 3.0  # its start lies at most this many detection spans earlier
READDRESS_GAP = 0.3  # hands settled this far from the address spot mean a new address, however turned
BACKSWING_RISE = 0.30  # P2 (and P6, P8): hands this far above address
ARM_PARALLEL = 0.10  # P3/P5/P9: wrist within this of its shoulder's height
TOP_MIN_RISE = 0.80  # a backswing lifts the hands at least this much
TOP_DROP = 0.05  # hands this far below their peak confirm the top
IMPACT_ZONE = 0.70  # look for impact once the hands are this low (MediaPipe's hands blur high at impact)
IMPACT_NEAR = 1.00  # ... and this close to their address spot (a 30 FPS sample may be 0.3 off)
IMPACT_PASS = 0.08  # hands this far above their lowest point confirm impact
WALKED = 1.0  # hips this far over the feet from address: walking, not a swing
FINISH_STILL_S = 0.30  # a finish is held this long
FINISH_MIN_S = 0.20  # and starts at least this long after impact
FINISH_LEAVE = 0.30  # hands this far from the finish: the golfer moved on
# Generous limits: slow-motion video stamped with its playback time is 4-8x slower than life.
TAKEAWAY_MAX_S = 4.0
BACKSWING_MAX_S = 6.0
DOWNSWING_MAX_S = 3.0
FOLLOW_MAX_S = 3.0
GAP_MAX_S = 0.5  # longer than this without a usable frame abandons a swing
HAND_SMOOTH_S = 0.02  # time constant of the grip smoothing the phase machine tracks
TURN_SMOOTH_S = 0.03  # time constant of the shoulder turn that can start a takeaway

HAND_SPEED_SMOOTH_S = 0.03  # time constant of the hand speed filter
IMAGE_TORSO_METRES = 0.5  # assumed torso length when the input has no metric scale
MAX_ABS_COORD = 1.0e4  # larger coordinates are garbage
CHICKEN_WING_WINDOW_S = 0.10  # impact .. this long after, the lead arm stays straight
HANGING_BACK_WINDOW_S = 0.20  # impact .. this long after, the weight moves forward
CASTING_MIN_RISE = 0.30  # casting is judged while the hands are above this
CASTING_TOP_SHARE = 0.35  # ... and above this share of their top height

# --- the grip (frame.pyx read_body) ---------------------------------------------------------
# A hidden wrist is MediaPipe's guess: face-on the trail wrist behind the lead hand comes back
# 0.38 torso from it at address (real-view-fingerprint.md), so the grip is placed from the
# better-seen wrist and a learnt offset, and the guess only moves that offset, slowly.
GRIP_TOGETHER = 0.35  # wrists closer than this (torso lengths) may teach the grip offset
GRIP_OFFSET_S = 0.25  # time constant of the grip offset (trail wrist minus lead wrist)
GRIP_ANCHOR_SWITCH = 0.3  # the other wrist must be this much more visible to become the anchor
GRIP_SEEN = 0.8  # both wrists this visible and far apart: the hands are not on one grip
# Until takeaway, with no wrist seen, the surer guess places the grip if it is this visible:
# face-on at address real clips see the lead wrist at 0.35-0.77 and the trail one at 0.16-0.62,
# and a detector that needs a wrist at 0.5 misses a quarter of face-on addresses.
HANDS_GUESSED_MIN = 0.2
# An address whose shoulder line has its lead end this much nearer the camera in MediaPipe's z
# (torso lengths), and its hip line half as much, is the other hand's: no supported camera sees
# that (face-on both ends are at about one depth, from behind or beside the lead end is the
# farther: real down-the-line addresses read 2.1-2.7 and 1.3-1.7 the other way). A left-handed
# golfer analysed as right-handed, or a mirrored video, reads +2.6 and +1.5.
HANDEDNESS_DEPTH = 1.0
# Face-on the address cannot tell (both ends at one depth), the backswing can: the hands go away
# from the target. Hands this far toward the target side (torso lengths) as the backswing begins
# belong to the other hand's swing.
HANDEDNESS_BACKSWING = 0.2

# --- the camera model (camera.pyx), for mediapipe_image --------------------------------------
# Fitted once per swing at address from the 2-D widths of the shoulder and hip lines against
# the torso and from the torso's lean; priors from real-view-fingerprint.md (face-on at
# address: shoulders 0.73 and hips 0.44 of the 2-D torso, which is foreshortened by the
# spine's tilt) and the real down-the-line clips (shoulders 0.43-0.55 of the torso at the top).
SHOULDER_WIDTH = 0.55  # shoulder landmark spacing over the (3-D) torso length
SHOULDER_WIDTH_SD = 0.08
HIP_WIDTH = 0.35
HIP_WIDTH_SD = 0.06
WIDTH_ERROR = 0.03  # landmark error of a 2-D width, torso lengths
# A line's depth against its width tells the angle whatever the golfer's build: MediaPipe's z
# runs 3.3-4.6 times true depth (real-view-fingerprint.md), so it is read at the middle, with
# the spread that leaves (and more for the shorter, noisier hip line). Widths alone cannot
# tell a broad golfer at 45 deg from a narrow one face-on: on real bodies posed by MediaPipe
# (shoulders 0.74-0.86 of the torso) they put a 45 deg camera at 27-30 deg.
Z_STRETCH = 4.0
Z_ANGLE_SD_SHOULDERS_DEG = 5.0
Z_ANGLE_SD_HIPS_DEG = 16.0
LEAN_ERROR = 0.04  # of the torso's 2-D lean, torso lengths
SIDE_BEND_PRIOR_DEG = 6.0  # address side bend away from the target, and its spread
SIDE_BEND_SD_DEG = 5.0
TILT_PRIOR_DEG = 37.0  # spine tilt toward the ball at address, and its spread
TILT_SD_DEG = 8.0
TILT_RANGE_DEG = (10.0, 60.0)
FACE_ON_MAX_DEG = 30.0  # camera angles below this are face-on, above DTL_MIN_DEG down-the-line
DTL_MIN_DEG = 60.0
# Per-frame turn estimate: each line is its address vector turned about the spine, seen in
# x, y and MediaPipe's z. z is on a stretched scale, so it is read against its own address
# value, and only where the line's address depth is large enough to read (sin(angle) >= this).
Z_MIN_SIN = 0.5
TURN_ERROR_2D = 0.06  # landmark error of a line's 2-D components, in line widths
TURN_ERROR_Z = 0.15  # error of a line's z difference, in its address z difference
TURN_ERROR_Z_STRETCH = 0.15  # ... in Z_STRETCH line widths, for a line without depth at address
TURN_ERROR_TILT = 0.3  # the dip's error from the fitted tilt, per sin(tilt) face-on (none from behind)
TURN_WEAK = 0.02  # a direction seen this much less than the other is read from the unit circle
Z_SIGN_MIN = 0.05  # z change (torso lengths) below which it cannot tell the turn's direction
Z_PICK_MIN_SIN = 0.17  # from 10 degrees off face-on the address depth of a line tells its fold apart

# Which KPIs each camera view measures in image landmarks; the rest are null, with the view
# as the reason. World landmarks, where the client sends them, measure WORLD_KPIS in any view.
VIEW_KPIS: dict[str, tuple[str, ...]] = {
    "face_on": ("shoulder_turn", "hip_turn", "x_factor", "side_bend", "lead_elbow", "trail_elbow",
                "head_sway", "head_lift", "pelvis_sway", "wrist_hinge", "hand_height", "hand_speed",
                "weight_shift"),
    # hand_height only face-on: elsewhere the hands swing toward the camera and perspective
    # inflates them (15-22 cm at the top on simulated phone video)
    "down_the_line": ("shoulder_turn", "hip_turn", "x_factor", "spine_tilt", "lead_knee",
                      "trail_knee", "head_lift", "pelvis_thrust"),
    # 30-60 deg off: the arms fold partly toward the camera (lead elbow 22 deg off the 3-D truth
    # on simulated phone video), so only the turns and heights are read
    "oblique": ("shoulder_turn", "hip_turn", "x_factor", "head_lift"),
}
# World landmarks beside image ones: their depth stands in for the picture's z where a turn
# leans on it (from Z_MIN_SIN off face-on). In the picture's own plane they add only noise.
WORLD_KPIS: tuple[str, ...] = ("shoulder_turn", "hip_turn", "x_factor")

# --- fault debouncing (faults.pyx) ----------------------------------------------------------
FAULT_HOLD_S = 0.05  # a fault's metric must stay past a value this long to count at that value
HEAD_DIP_WEIGHT = 0.5  # HEAD_MOVEMENT counts a head dropping into impact at this share
