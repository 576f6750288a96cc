import ExprEval
import Formats
import Foundation
import PipelineKit

extension RunPlan {
  /// The plan of animation frame `index` (0-based): the experiment with its frame variables
  /// set and, after the first frame, `animation.epochs` epochs from epoch 0 (at least 1 for
  /// the time variables; a frame of 0 epochs runs none). Every frame keeps the run's seed;
  /// its streams are the frame's (`RandomStreams.frame`).
  public func frame(_ index: Int) -> RunPlan {
    var plan = self
    plan.experiment.frameIndex = index
    if index > 0, let animation = experiment.animation {
      plan.experiment.epochs = max(1, animation.epochs)
      plan.experiment.startEpoch = 0
    }
    return plan
  }
}

/// `clipig render` of an experiment with an `animation:` section: a frame loop over the one
/// training loop. Frame k's plan (`RunPlan.frame`) trains in `RunLoop` observed by a
/// `FrameRecorder`, from the previous frame's saved PNG warped (`Animation.Warp`, bilinear);
/// the first frame starts as a still image would. At the end the frames become `NAME.webp`
/// and, with ffmpeg, `NAME.mp4` (`AnimationVideo`), and `NAME.yaml` records the run.
///
/// With `init.video` frame k starts from input frame k (`VideoInput`) resized to the frame's
/// resolution, blended with the warped previous frame by `init.blend`, and `content`
/// constraints without an image compare with that input frame.
///
/// Each frame starts from the frame as saved (8-bit PNG) and its input frame decoded again,
/// so a run continued after an interruption (the checkpoint names the frame and epoch) makes
/// the same bytes as one that was never interrupted.
public enum AnimationRender {
  /// Renders the animation of `plan` (an experiment with `animation`) for `options`: the
  /// output `-o` and `output:` ask for (or the interrupted run of it to continue), checked
  /// before the model loads.
  public static func render(
    plan initial: RunPlan, options: RenderOptions, interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void
  ) throws -> RenderOutcome {
    var plan = initial
    let requested = try AnimationOutput.requested(plan: plan, commandLine: options.output)
    let resume = try Checkpoint.resumable(
      forRequested: requested, digest: plan.checkpointDigest,
      maxBytes: Checkpoint.sizeLimit(for: plan.experiment, seed: plan.seed))
    if let resume { plan = try plan.reseeded(resume.checkpoint.seed) }
    let input = try prepare(plan)
    let experiment = plan.experiment
    let verbose = options.verbosity ?? min(experiment.verbose, 1)
    if verbose >= 1 { for warning in experiment.warnings { log("warning: \(warning)\n") } }
    let models = try experiment.loadModels { name, precision in
      try ModelLoader.load(name, quiet: verbose == 0, precision: precision)
    }
    let output: AnimationOutput
    if let resume {
      output = AnimationOutput(video: resume.imagePath)
    } else {
      output = try AnimationOutput.claim(requested)
      if verbose >= 1 { log("rendering \(output.video) (seed \(plan.seed))\n") }
    }
    defer { output.releaseIfEmpty() }
    return try run(
      plan: plan, output: output, resume: resume?.checkpoint, input: input, models: models,
      verbosity: verbose, interrupt: interrupt, log: log)
  }

  /// Checks every bound of the animation of `plan` before any work — the warp of every
  /// frame, the frames' sizes, `init.blend` — and opens its input video (`VideoInput.open`,
  /// nil without `init.video`).
  public static func prepare(_ plan: RunPlan) throws -> VideoInput? {
    try check(plan)
    guard let animation = plan.experiment.animation,
      let video = plan.experiment.initialization.video
    else { return nil }
    return try VideoInput.open(video, frames: animation.frames, baseDirectory: plan.baseDirectory)
  }

  /// `prepare`'s checks without opening the input video: cheap, for planning many runs.
  public static func check(_ plan: RunPlan) throws {
    guard let animation = plan.experiment.animation else {
      preconditionFailure("AnimationRender needs an experiment with an animation")
    }
    try animation.checkWarp(streams: plan.streams)
    try ImageLimits.check(plan.experiment, streams: plan.streams, format: .png)
    if let video = plan.experiment.initialization.video {
      try checkBlend(video, animation: animation, streams: plan.streams)
    }
  }

  /// Renders the animation of `plan` into `output` (its frame folder exists) with `model`,
  /// continuing `resume` (a checkpoint of this configuration at `output.checkpoint`) when
  /// given; `input` is `prepare`'s. Finished: the frames, `NAME.webp`, `NAME.mp4` (with
  /// ffmpeg) and the sidecar are written and the checkpoint is gone; interrupted: the frames
  /// so far, the sidecar and the checkpoint stay. `timing`, when given, receives where the
  /// time went.
  public static func run(
    plan: RunPlan, output: AnimationOutput, resume: Checkpoint?, input: VideoInput?,
    models: [any FeatureModel], verbosity verbose: Int, interrupt: InterruptFlag,
    timing: AnimationTiming? = nil, log: @escaping @Sendable (String) -> Void
  ) throws -> RenderOutcome {
    guard let animation = plan.experiment.animation else {
      preconditionFailure("AnimationRender needs an experiment with an animation")
    }
    let experiment = plan.experiment
    var startFrame = 0
    if let resume {
      startFrame = min(resume.frame ?? 0, animation.frames)
      for k in 0..<startFrame where !FileManager.default.fileExists(atPath: output.frame(k)) {
        throw CheckpointError(
          path: output.checkpoint,
          "continues at frame \(startFrame + 1), but \(output.frame(k)) is missing; delete the "
            + "checkpoint to start afresh")
      }
      if verbose >= 1 {
        log(
          "resuming \(output.video) at frame \(startFrame + 1), epoch "
            + "\(resume.nextEpoch + 1) (seed \(plan.seed))\n")
      }
    }
    let started = Date()
    var progress = AnimationProgress(
      frames: animation.frames,
      remainingEpochs: (startFrame..<animation.frames).reduce(0) {
        $0 + ($1 == 0 ? experiment.epochs - experiment.startEpoch : animation.epochs)
      })
    var references: ReferenceImages?
    for k in startFrame..<animation.frames {
      var clock = Date()
      let framePlan = plan.frame(k)
      let frameInput = try input?.frame(k)
      let start: Tensor?
      if let frameInput, let video = experiment.initialization.video {
        start = try videoStart(
          k, input: frameInput, video: video, animation: animation, plan: plan, output: output)
      } else {
        start = k == 0 ? nil : try warpedFrame(k, animation: animation, plan: plan, output: output)
      }
      references = try ReferenceImages.load(
        framePlan.experiment, baseDirectory: plan.baseDirectory, frame: frameInput,
        loaded: references)
      timing?.start += lap(&clock)
      let trainer = try Trainer(
        plan: framePlan, models: models, initialImage: start, references: references)
      var first = framePlan.experiment.startEpoch
      if let resume, k == startFrame, resume.nextEpoch > first {
        try trainer.restore(resume, path: output.checkpoint)
        first = resume.nextEpoch
        progress.remainingEpochs -= first - framePlan.experiment.startEpoch
      }
      timing?.setup += lap(&clock)
      let trainedBefore = progress.trainingSeconds
      let epochs = k == 0 ? experiment.epochs : animation.epochs
      var recorder = FrameRecorder(
        plan: framePlan, output: output, firstEpoch: first, epochs: epochs, progress: progress,
        verbosity: verbose, log: log)
      let loop = RunLoop(
        trainer: trainer, firstEpoch: first, endEpoch: epochs, interrupt: interrupt)
      let outcome = try loop.run(&recorder).outcome
      progress = recorder.progress
      if let timing {
        let epochs = progress.trainingSeconds - trainedBefore
        timing.training += epochs
        timing.frames += lap(&clock) - epochs
      }
      if outcome != .finished || (interrupt.isSet && k < animation.frames - 1) {
        let at = outcome == .finished ? "before frame \(k + 2)" : "in frame \(k + 1)"
        try writeSidecar(
          plan: plan, output: output, frames: outcome == .finished ? k + 1 : k,
          note: "interrupted \(at)", started: started)
        if verbose >= 1 {
          log(
            "\ninterrupted \(at): the frames are in \(output.frameDirectory)/ and "
              + "\(output.checkpoint) keeps the rest (run the same command to resume)\n")
        }
        return .interrupted
      }
    }
    let finishing = Date()
    try finish(plan: plan, output: output, verbose: verbose, started: started, log: log)
    timing?.finish += Date().timeIntervalSince(finishing)
    return .finished
  }

  /// Seconds since `clock`, which becomes now.
  static func lap(_ clock: inout Date) -> Double {
    let now = Date()
    defer { clock = now }
    return now.timeIntervalSince(clock)
  }

  /// The start of frame `k`: frame k − 1 as saved, warped by frame k's warp values (reading
  /// across the edges with `tiling: true`, whatever `edge` says, as `pad` does).
  static func warpedFrame(
    _ k: Int, animation: Animation, plan: RunPlan, output: AnimationOutput
  ) throws -> Tensor {
    let previous = try ImageFile.read(path: output.frame(k - 1))
    let values = try animation.warpValues(frame: k, streams: plan.streams)
    let edge = plan.experiment.tiling ? .wrap : animation.warp.edge
    return warp(previous, values, edge: edge, color: animation.warp.color)
  }

  /// The start of frame `k` of an animation with an input video: input frame `input` resized
  /// to the frame's resolution (CLIPig's resize-crop, as `init.image`; clamped) and, after the first
  /// frame, blended with the previous frame warped (`warpedFrame`, resized to that resolution
  /// with `interpolation` when it differs): (1 − b)·input + b·previous, b the frame's `blend`.
  static func videoStart(
    _ k: Int, input: Tensor, video: Experiment.Video, animation: Animation, plan: RunPlan,
    output: AnimationOutput
  ) throws -> Tensor {
    let e = plan.frame(k).experiment
    var random = RandomStreams(seed: plan.seed, frame: k).initialization
    let (w, h) = try Trainer.resolution(
      e, context: e.context(atEpoch: e.startEpoch), random: &random)
    // The input frame as an image in [0, 1] (bicubic overshoots), then the blend.
    var start = ImageOps.clamp(ImageOps.resizeCrop(input, width: w, height: h), 0, 1)
    let b = k == 0 ? 0 : try blend(video, frame: k, frames: animation.frames, streams: plan.streams)
    if b > 0 {
      var previous = try warpedFrame(k, animation: animation, plan: plan, output: output)
      let (_, ph, pw) = previous.chw
      if ph != h || pw != w {
        previous = Resampler(from: ph, pw, to: h, w, filter: e.interpolation).apply(previous)
      }
      let (keep, mix) = (Float(1 - b), Float(b))
      for i in start.scalars.indices {
        start.scalars[i] = keep * start.scalars[i] + mix * previous.scalars[i]
      }
    }
    return ImageOps.clamp(start, 0, 1)
  }

  /// `init.blend` at frame `k` of `frames`: its expression with the frame variables, random
  /// functions drawing from the frame's `blend` stream.
  static func blend(_ video: Experiment.Video, frame k: Int, frames: Int, streams: RandomStreams)
    throws(StageError) -> Double
  {
    var context = ExprContext(epoch: 0, epochs: 1)
    context.frame = k
    context.frames = frames
    var random = streams.stream(.blend, k)
    return try video.blend.value(in: context, random: &random)
  }

  /// Evaluates `init.blend` at every later frame and refuses a value outside 0…1, naming its
  /// place and the frame: before any work starts.
  static func checkBlend(_ video: Experiment.Video, animation: Animation, streams: RandomStreams)
    throws
  {
    for k in 1..<max(animation.frames, 1) {
      let b = try blend(video, frame: k, frames: animation.frames, streams: streams)
      guard (0...1).contains(b) else {
        throw ConfigError(
          "blend must be between 0 and 1, got \(b) at frame \(k)", at: video.blend.location,
          path: "init.blend")
      }
    }
  }

  /// `image` `[3, H, W]` warped by `values` (bilinear, `edge` outside) and clamped to [0, 1].
  public static func warp(
    _ image: Tensor, _ values: Animation.WarpValues, edge: WarpEdge, color: [Double]
  ) -> Tensor {
    let (_, h, w) = image.chw
    let warp = BilinearWarp(
      sourceFromOutput: values.map(width: w, height: h), inputHeight: h, inputWidth: w,
      edge: edge)
    return ImageOps.clamp(warp.apply(image, fill: color.map(Float.init)), 0, 1)
  }

  /// The WebP, the MP4 (with ffmpeg), the sidecar; the checkpoint goes.
  static func finish(
    plan: RunPlan, output: AnimationOutput, verbose: Int, started: Date,
    log: @Sendable (String) -> Void
  ) throws {
    guard let animation = plan.experiment.animation else { return }
    let n = animation.frames
    if verbose >= 1 && isatty(2) == 1 { log("\n") }
    try AnimationVideo.writeWebP(
      frames: output.frameDirectory, count: n, fps: animation.fps,
      quality: plan.experiment.outputQuality, to: output.webp)
    var note: String?
    if let ffmpeg = ExternalTool.find("ffmpeg") {
      try AnimationVideo.writeMP4(
        frames: output.frameDirectory, count: n, fps: animation.fps, to: output.video,
        ffmpeg: ffmpeg)
    } else {
      // The empty placeholder goes; `clipig encode NAME/` makes the video later.
      var info = stat()
      if stat(output.video, &info) == 0 && info.st_size == 0 { _ = unlink(output.video) }
      note = "no MP4: ffmpeg was not on PATH (clipig encode \(output.frameDirectory)/ makes it)"
      log(AnimationVideo.missingFFmpegNote(frames: output.frameDirectory))
    }
    try writeSidecar(plan: plan, output: output, frames: n, note: note, started: started)
    Checkpoint.remove(path: output.checkpoint)
    if verbose >= 1 {
      log(
        "saved \(output.frameDirectory)/frame-*.png, \(output.webp)"
          + (note == nil ? ", \(output.video)" : "") + "\n")
    }
  }

  static func writeSidecar(
    plan: RunPlan, output: AnimationOutput, frames: Int, note: String?, started: Date
  ) throws {
    let animation = plan.experiment.animation
    var header = Sidecar.Header(
      command: "clipig render", seed: plan.seed,
      progress: "frames: \(frames) of \(animation?.frames ?? 1)")
    header.notes.append(
      String(format: "runtime: %.1f seconds", Date().timeIntervalSince(started)))
    // Named beside the sidecar, which stays true when a batch moves the files.
    let name = (output.stem as NSString).lastPathComponent
    header.notes.append("files: \(name)/frame-*.png, \(name).webp, \(name).mp4")
    if let note { header.notes.append(note) }
    try Sidecar.write(for: plan, imagePath: output.video, header: header)
  }
}
