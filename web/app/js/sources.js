// Where frames come from. Both call `analyse(video, frameIndex, timestamp)` for a frame and
// wait for it before taking the next (the file) or drop frames while it runs (the camera).

// Between frames a file plays at this rate: slow enough that the browser shows every frame
// before the next is due, so a run sees the same frames as the last one.
const FILE_PLAYBACK_RATE = 0.25;

// A video file, every frame: play muted, stop at each new frame (requestVideoFrameCallback),
// analyse it, play on. Headless Chromium does not redraw a seeked, paused video, so no seeking.
// frame_index is the video's frame number (media time × frame rate) and timestamp its media time,
// so the same file gives the same frames. A frame the browser never showed is counted (onSkip).
export function playFile(video, file, analyse, signal, onSkip) {
  return new Promise((resolve, reject) => {
    video.srcObject = null;
    video.src = URL.createObjectURL(file);
    video.muted = true;
    video.defaultPlaybackRate = FILE_PLAYBACK_RATE;
    video.playbackRate = FILE_PLAYBACK_RATE;
    let frameStep = Infinity; // smallest media-time step seen: 1 / the file's frame rate
    let lastTime = -1;
    let busy = false;
    let ended = false;
    const finish = () => {
      video.pause();
      URL.revokeObjectURL(video.src);
      resolve();
    };
    const onFrame = async (now, meta) => {
      if (signal.aborted) return finish();
      video.pause();
      busy = true;
      const time = meta.mediaTime;
      if (time > lastTime) {
        if (lastTime >= 0) {
          const step = time - lastTime;
          // a step of about n frames: n - 1 were skipped (the first step sets the frame length)
          if (Number.isFinite(frameStep)) for (let n = Math.round(step / frameStep); n > 1; n -= 1) onSkip?.();
          frameStep = Math.min(frameStep, step);
        }
        lastTime = time;
        const fps = Number.isFinite(frameStep) ? 1 / frameStep : 30;
        try {
          await analyse(video, Math.round(time * fps), time);
        } catch (error) {
          return reject(error);
        }
      }
      busy = false;
      if (signal.aborted) return finish();
      if (ended) return finish();
      video.requestVideoFrameCallback(onFrame);
      resume();
    };
    // play() is interrupted by the pause at every frame: expected, not an error.
    const resume = () => video.play().catch(() => {});
    video.addEventListener("ended", () => {
      ended = true;
      if (!busy) finish();
    }, { once: true });
    video.addEventListener("error", () => reject(new Error(video.error?.message || "the video cannot be decoded")), { once: true });
    video.requestVideoFrameCallback(onFrame);
    resume();
  });
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
