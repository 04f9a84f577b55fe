// MediaPipe Pose from the npm package, served by our server under /app/pose/ (no CDN).
// One image in; MediaPipe's image landmarks (normalised, y down) and world landmarks
// (metres, y down, origin between the hips) out.
export class PoseAssetsMissing extends Error {}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new PoseAssetsMissing(`could not load ${src}`));
    document.head.append(script);
  });
}

export async function loadPose(modelComplexity = 1) {
  // pose.js is a classic script that defines window.Pose.
  await loadScript("pose/pose.js");
  const pose = new window.Pose({ locateFile: (file) => `pose/${file}` });
  pose.setOptions({
    modelComplexity,
    smoothLandmarks: true,
    minDetectionConfidence: 0.5,
    minTrackingConfidence: 0.5,
  });
  let deliver = null;
  pose.onResults((results) => deliver?.(results));
  await pose.initialize();
  return {
    // Landmarks of the frame now shown by `image` (a <video>): {image, world}, null when no one is seen.
    // `atMs`: the frame's time in whole milliseconds, increasing. The landmark smoothing filters
    // by the time between frames, so a file stamped with its media time is smoothed the same way
    // on every run (left out, MediaPipe takes the wall clock, which differs run to run).
    async estimate(image, atMs) {
      const results = new Promise((resolve) => (deliver = resolve));
      await pose.send({ image }, atMs);
      const { poseLandmarks, poseWorldLandmarks } = await results;
      return poseLandmarks ? { image: poseLandmarks, world: poseWorldLandmarks } : null;
    },
    reset: () => pose.reset(),
  };
}
