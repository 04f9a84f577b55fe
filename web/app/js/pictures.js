// Key-position pictures of a swing (address, top, impact, finish): the page keeps small copies of
// the frames it analyses, cuts a swing's four when its summary names their frames, sends them to
// the server (one PUT each, a small JPEG) and shows them as thumbnails; the coach page fetches them.
import { el } from "./analysis.js";

export const MOMENTS = ["address", "top", "impact", "finish"];
export const LONG_SIDE = 240; // as the server's own video pictures
export const MAX_BYTES = 64 * 1024; // the server refuses more (413)
const QUALITY = 0.8;

// The frame each moment shows: address is the frame just before the takeaway.
export function momentFrames(summary) {
  return {
    address: Math.max(0, summary.takeaway_frame - 1),
    top: summary.top_frame,
    impact: summary.impact_frame,
    finish: summary.finish_frame,
  };
}

// The last `size` frames, each shrunk to LONG_SIDE on a canvas of its own (reused once it falls out).
export class FrameRing {
  constructor(size) {
    this.size = size;
    this.frames = new Map(); // frame index -> canvas, oldest first
  }

  keep(source, width, height, frameIndex) {
    if (!width || !height) return;
    const scale = Math.min(1, LONG_SIDE / Math.max(width, height));
    const w = Math.max(1, Math.round(width * scale));
    const h = Math.max(1, Math.round(height * scale));
    let canvas = null;
    if (this.frames.size >= this.size) {
      const [oldest, reused] = this.frames.entries().next().value;
      this.frames.delete(oldest);
      canvas = reused;
    }
    canvas ??= document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(source, 0, 0, w, h);
    this.frames.delete(frameIndex);
    this.frames.set(frameIndex, canvas);
  }

  // The swing's pictures still kept, as [{moment, blob}] (JPEG); a moment that fell out is left out.
  async cut(summary) {
    const frames = momentFrames(summary);
    const pictures = [];
    for (const moment of MOMENTS) {
      const canvas = this.frames.get(frames[moment]);
      if (!canvas) continue;
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
      if (blob && blob.size <= MAX_BYTES) pictures.push({ moment, blob });
    }
    return pictures;
  }
}

export const pictureUrl = (sessionId, swingIndex, moment) =>
  `/api/v1/stream/sessions/${encodeURIComponent(sessionId)}/swings/${swingIndex}/pictures/${moment}`;

// One PUT per picture (at most the four moments); the moments the server stored.
export async function sendPictures(sessionId, swingIndex, pictures, token) {
  const stored = [];
  for (const { moment, blob } of pictures.slice(0, MOMENTS.length)) {
    const response = await fetch(pictureUrl(sessionId, swingIndex, moment), {
      method: "PUT",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "image/jpeg" },
      body: blob,
    });
    if (response.ok) stored.push(moment);
    else console.warn(`picture ${moment} of swing ${swingIndex} refused: HTTP ${response.status}`);
  }
  return stored;
}

// The swing's pictures the caller may read, as [{moment, blob}] (none when it may not, or none yet).
export async function fetchPictures(sessionId, swingIndex, token) {
  const found = [];
  for (const moment of MOMENTS) {
    const response = await fetch(pictureUrl(sessionId, swingIndex, moment), { headers: { Authorization: `Bearer ${token}` } });
    if (response.ok) found.push({ moment, blob: await response.blob() });
  }
  return found;
}

// Thumbnails in the swing's list item (the token stays in a header: images come as blob URLs).
export function showPictures(node, pictures) {
  if (!node || !pictures.length) return;
  node.querySelector(".pictures")?.remove();
  const strip = el("div", { className: "pictures" });
  for (const { moment, blob } of pictures) {
    const img = el("img", { src: URL.createObjectURL(blob), alt: moment, title: moment });
    img.dataset.testid = "swing-picture";
    img.dataset.moment = moment;
    strip.append(img);
  }
  node.append(strip);
}
