// The skeleton over the video: MediaPipe's image landmarks are normalised, so they scale to any size.
export function drawSkeleton(canvas, video, landmarks, connections) {
  if (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight) {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
  }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!landmarks) return;
  const seen = (p) => (p.visibility ?? 1) > 0.5;
  const at = (p) => [p.x * canvas.width, p.y * canvas.height];
  ctx.lineWidth = Math.max(2, canvas.width / 160);
  ctx.strokeStyle = "#4ade80";
  for (const [a, b] of connections) {
    if (!seen(landmarks[a]) || !seen(landmarks[b])) continue;
    ctx.beginPath();
    ctx.moveTo(...at(landmarks[a]));
    ctx.lineTo(...at(landmarks[b]));
    ctx.stroke();
  }
  ctx.fillStyle = "#f97316";
  for (const p of landmarks) {
    if (!seen(p)) continue;
    ctx.beginPath();
    ctx.arc(...at(p), ctx.lineWidth * 1.2, 0, 2 * Math.PI);
    ctx.fill();
  }
}
