"""Constants of the phase machine, shared by the Cython kernel and the numpy reference.

Lengths are in torso lengths (hip centre to shoulder centre at address),
times in seconds, so the machine is the same in metres or image units and
at any frame rate.
"""

STILL_RADIUS = 0.10  # hands/hips may wander this much and still be "still"
ADDRESS_STILL_S = 0.3  # stillness that arms the machine
HANDS_LOW = -0.6  # address: hands at least this far below the shoulders
GRIP_MAX = 0.5  # address: wrists closer than this hold one club
ADDRESS_SMOOTH_S = 0.25  # time constant of the address pose average
AT_ADDRESS = 0.05  # hands this close to their address spot are "at address"
TAKEAWAY_START = 0.12  # hands this far from address start a takeaway
TAKEAWAY_BACKTRACK = 3.0  # its start lies at most this many detection spans earlier
READDRESS_GAP = 0.5  # hands settled this far from the address spot mean a new address
BACKSWING_RISE = 0.30  # P2 (and P6, P8): hands this far above address
ARM_PARALLEL = 0.10  # P3/P5/P9: wrist within this of its shoulder's height
TOP_MIN_RISE = 0.80  # a backswing lifts the hands at least this much
TOP_DROP = 0.05  # hands this far below their peak confirm the top
IMPACT_ZONE = 0.50  # look for impact once the hands are this low
IMPACT_NEAR = 0.60  # an impact brings the hands back this close to address
IMPACT_PASS = 0.08  # hands this far past their closest point confirm impact
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

HAND_SPEED_SMOOTH_S = 0.03  # time constant of the hand speed filter
IMAGE_TORSO_METRES = 0.5  # assumed torso length when the input has no metric scale
MAX_ABS_COORD = 1.0e4  # larger coordinates are garbage
CHICKEN_WING_WINDOW_S = 0.10  # impact .. this long after, the lead arm stays straight
HANGING_BACK_WINDOW_S = 0.20  # impact .. this long after, the weight moves forward
CASTING_MIN_RISE = 0.30  # casting is judged while the hands are above this
CASTING_TOP_SHARE = 0.35  # ... and above this share of their top height
