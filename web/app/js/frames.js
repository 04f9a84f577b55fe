// Landmarks -> the server's raw float32 frame (docs/protocol.md, "Raw float32 frames"):
// "SSF1", frame_index (uint32), timestamp (float64), then x, y, z, visibility of the 33
// landmarks in MediaPipe order. 544 bytes, no JSON to build or parse on either side.
const LANDMARKS = 33;
const HEADER = 16;
export const FRAME_BYTES = HEADER + LANDMARKS * 4 * 4;

// `landmarks`: MediaPipe's list for the chosen coordinate system, or null (no one seen: all
// invisible, so the server reports the frame unusable and the frame numbers stay continuous).
// World landmarks take their visibility from the image landmarks, which always carry it.
export function encodeFrame(frameIndex, timestamp, landmarks, visibilityFrom = landmarks) {
  const buffer = new ArrayBuffer(FRAME_BYTES);
  const view = new DataView(buffer);
  [..."SSF1"].forEach((c, i) => view.setUint8(i, c.charCodeAt(0)));
  view.setUint32(4, frameIndex, true);
  view.setFloat64(8, timestamp, true);
  if (landmarks) {
    const values = new Float32Array(buffer, HEADER, LANDMARKS * 4);
    landmarks.forEach((p, i) => values.set([p.x, p.y, p.z, visibilityFrom[i].visibility ?? 1], i * 4));
  }
  return buffer;
}
