// Landmarks -> the server's raw float32 frame (docs/protocol.md, "Raw float32 frames"):
// "SSF1", frame_index (uint32), timestamp (float64), then x, y, z, visibility of the 33
// landmarks in MediaPipe order: 544 bytes, no JSON to build or parse on either side.
// "SSF2" carries MediaPipe's world landmarks of the same call after the image ones (1072
// bytes): the server measures turns and joint angles from them in 3-D.
const LANDMARKS = 33;
const HEADER = 16;
const LANDMARK_BYTES = LANDMARKS * 4 * 4;
export const FRAME_BYTES = HEADER + LANDMARK_BYTES;
export const FRAME_WITH_WORLD_BYTES = HEADER + 2 * LANDMARK_BYTES;

// `landmarks`: MediaPipe's list for the chosen coordinate system, or null (no one seen: all
// invisible, so the server reports the frame unusable and the frame numbers stay continuous).
// World landmarks take their visibility from the image landmarks, which always carry it.
// `world`: the world landmarks to send beside image landmarks, or null.
export function encodeFrame(frameIndex, timestamp, landmarks, visibilityFrom = landmarks, world = null) {
  const withWorld = Boolean(landmarks && world);
  const buffer = new ArrayBuffer(withWorld ? FRAME_WITH_WORLD_BYTES : FRAME_BYTES);
  const view = new DataView(buffer);
  [...(withWorld ? "SSF2" : "SSF1")].forEach((c, i) => view.setUint8(i, c.charCodeAt(0)));
  view.setUint32(4, frameIndex, true);
  view.setFloat64(8, timestamp, true);
  const put = (points, offset) => {
    const values = new Float32Array(buffer, offset, LANDMARKS * 4);
    points.forEach((p, i) => values.set([p.x, p.y, p.z, visibilityFrom[i].visibility ?? 1], i * 4));
  };
  if (landmarks) put(landmarks, HEADER);
  if (withWorld) put(world, HEADER + LANDMARK_BYTES);
  return buffer;
}
