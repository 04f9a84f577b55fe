// Drawing a pose: MediaPipe's 33 landmarks joined by the bones between them.
// Points are {x, y, visibility} with x, y in 0..1 of the canvas (image landmarks as they come).
const BONES = [
  [0, 1], [1, 2], [2, 3], [3, 7], [0, 4], [4, 5], [5, 6], [6, 8], [9, 10], // face
  [11, 12], [11, 23], [12, 24], [23, 24], // torso
  [11, 13], [13, 15], [15, 17], [15, 19], [15, 21], [17, 19], // left arm and hand
  [12, 14], [14, 16], [16, 18], [16, 20], [16, 22], [18, 20], // right arm and hand
  [23, 25], [25, 27], [27, 29], [27, 31], [29, 31], // left leg
  [24, 26], [26, 28], [28, 30], [28, 32], [30, 32], // right leg
];

export function drawSkeleton(canvas, width, height, points) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  if (!points) return;
  const seen = (p) => (p.visibility ?? 1) > 0.5;
  const at = (p) => [p.x * width, p.y * height];
  ctx.lineWidth = Math.max(2, width / 160);
  ctx.strokeStyle = "#4ade80";
  for (const [a, b] of BONES) {
    if (!seen(points[a]) || !seen(points[b])) continue;
    ctx.beginPath();
    ctx.moveTo(...at(points[a]));
    ctx.lineTo(...at(points[b]));
    ctx.stroke();
  }
  ctx.fillStyle = "#f97316";
  for (const p of points) {
    if (!seen(p)) continue;
    ctx.beginPath();
    ctx.arc(...at(p), ctx.lineWidth * 1.2, 0, 2 * Math.PI);
    ctx.fill();
  }
}

// Mirrored keypoints ([x, y, z, visibility], in whatever coordinates the student streams) fitted
// into a unit box, upright: y is flipped when the nose is below the hips (a y-up system).
export function fitToBox(keypoints, margin = 0.08) {
  const visible = keypoints.filter((k) => k[3] > 0.5);
  if (visible.length < 4) return null;
  const xs = visible.map((k) => k[0]);
  const ys = visible.map((k) => k[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = (1 - 2 * margin) / Math.max(x1 - x0, y1 - y0, 1e-6);
  const yUp = keypoints[0][1] > (keypoints[23][1] + keypoints[24][1]) / 2;
  return keypoints.map(([x, y, , visibility]) => ({
    x: 0.5 + (x - (x0 + x1) / 2) * scale,
    y: 0.5 + (yUp ? -1 : 1) * (y - (y0 + y1) / 2) * scale,
    visibility,
  }));
}
