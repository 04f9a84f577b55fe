// Where frames come from. Both call `analyse(video, frameIndex, timestamp)` for a frame and
// wait for it before taking the next (the file) or drop frames while it runs (the camera).

// Between frames a file plays at this rate: slow enough that the browser nearly always shows
// the next frame; one it passes over is sought back to.
const FILE_PLAYBACK_RATE = 0.25;
const PREROLL_FRAMES = 6; // played untouched first, to learn the file's frame length
const MAX_SEEKS_PER_FRAME = 3;

const nextFrame = (video) => new Promise((resolve) => video.requestVideoFrameCallback((now, meta) => resolve(meta)));

// The media times of the first frames the browser shows, played as they come.
async function preroll(video, signal) {
  const times = [];
  const ended = new Promise((resolve) => video.addEventListener("ended", resolve, { once: true }));
  video.play().catch(() => {});
  while (times.length < PREROLL_FRAMES && !signal.aborted) {
    const meta = await Promise.race([nextFrame(video), ended]);
    if (!meta) break;
    times.push(meta.mediaTime);
  }
  video.pause();
  return times;
}

// A video file, every frame in order, each once: play muted, stop at each new frame
// (requestVideoFrameCallback), analyse it, play on. The frame length comes from a pre-roll; a
// frame the browser passed over is sought back to (seeking while playing: headless Chromium does
// not redraw a seeked, paused video). frame_index is the video's frame number (media time ×
// frame rate) and timestamp its media time, so the same file gives the same frames on every run.
// A frame still not shown after a few seeks is counted (onSkip) and left out.
export async function playFile(video, file, analyse, signal, onSkip) {
  video.srcObject = null;
  video.src = URL.createObjectURL(file);
  video.muted = true;
  video.defaultPlaybackRate = FILE_PLAYBACK_RATE;
  video.playbackRate = FILE_PLAYBACK_RATE;
  const failed = new Promise((resolve, reject) => video.addEventListener(
    "error", () => reject(new Error(video.error?.message || "the video cannot be decoded")), { once: true }));
  try {
    const times = await Promise.race([preroll(video, signal), failed]);
    const steps = times.slice(1).map((t, i) => t - times[i]).filter((d) => d > 0);
    const step = steps.length ? Math.min(...steps) : 1 / 30;
    const first = times.length ? Math.min(...times) : 0;
    await Promise.race([walk(video, { step, first }, analyse, signal, onSkip), failed]);
  } finally {
    video.pause();
    URL.revokeObjectURL(video.src);
  }
}

async function walk(video, { step, first }, analyse, signal, onSkip) {
  const fps = 1 / step;
  let want = first; // media time of the next frame to analyse
  let seeks = 0;
  let ended = false;
  video.addEventListener("ended", () => (ended = true));
  const seek = (time) => {
    video.currentTime = time + step / 4; // inside the frame's display interval
    ended = false;
  };
  seek(want);
  for (;;) {
    const shown = nextFrame(video);
    video.play().catch(() => {}); // interrupted by the pause at every frame: expected
    let waiting = true;
    const over = new Promise((resolve) => {
      const check = () => {
        if (!waiting) return;
        if (ended || video.ended || signal.aborted) resolve(null);
        else setTimeout(check, 100);
      };
      check();
    });
    const meta = await Promise.race([shown, over]);
    waiting = false;
    video.pause();
    if (signal.aborted || !meta) return;
    const time = meta.mediaTime;
    if (time < want - step / 2) continue; // an earlier frame, shown again: play on
    if (time > want + step / 2) {
      if (seeks < MAX_SEEKS_PER_FRAME) {
        seeks += 1;
        seek(want);
        continue;
      }
      // given up on it: count each frame passed over
      for (let n = Math.round((time - want) / step); n > 0; n -= 1) onSkip?.();
    }
    seeks = 0;
    await analyse(video, Math.round(time * fps), time);
    if (signal.aborted) return;
    want = time + step;
  }
}

// The camera, live: each new camera frame is analysed unless the last one still is, in which case
// it is dropped, so the analysis never falls behind. frame_index counts camera frames (dropped ones
// included); timestamp is seconds on the page's clock.
export async function playCamera(video, analyse, signal, onDrop) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.src = "";
  video.srcObject = stream;
  video.muted = true;
  await video.play();
  let frameIndex = -1;
  let busy = false;
  await new Promise((resolve, reject) => {
    const onFrame = (now) => {
      if (signal.aborted) return resolve();
      frameIndex += 1;
      if (busy) onDrop?.();
      else {
        busy = true;
        analyse(video, frameIndex, now / 1000).then(() => (busy = false), reject);
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  stream.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
}
