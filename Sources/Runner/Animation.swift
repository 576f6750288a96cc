import ExprEval
import Formats
import Foundation
import PipelineKit

/// The `animation:` section: a sequence of frames, each starting from the previous frame
/// warped (zoomed, rotated, moved) and trained a few epochs. Frame 1 trains the experiment's
/// `epochs`, every later frame `animation.epochs` (0: the warp alone). Every parameter of the
/// experiment may use the frame variables `frame` (0-based) and `ft` (`frame / frames`); the
/// warp's parameters may use only them. `scenes` is a shorthand for prompts whose weights
/// cross-fade over the frames (`AnimationScenes`).
public struct Animation: Sendable {
  /// Number of frames (1…`maxFrames`).
  public var frames: Int
  /// Frames per second of the video (0 < fps ≤ `maxFPS`).
  public var fps: Double
  /// Epochs of every frame after the first (0…`maxEpochs`; 0: warp only).
  public var epochs: Int
  /// The warp of the previous frame that starts each later frame.
  public var warp: Warp
  /// The scenes, when the shorthand was used (already expanded into the targets' features).
  public var scenes: AnimationScenes?
  /// Where the section was written.
  public var location: SourceLocation

  /// The most frames an animation may have.
  public static let maxFrames = 10_000
  /// The highest frame rate.
  public static let maxFPS = 240.0
  /// The most epochs of one later frame.
  public static let maxEpochs = 100_000

  /// `animation.warp`: each later frame starts from the previous frame zoomed by `zoom` and
  /// rotated by `rotate` degrees (counter-clockwise) about `center`, then moved by `translate`
  /// pixels; source points outside the image read by `edge`. Bilinear (`BilinearWarp`).
  public struct Warp: Sendable {
    /// Zoom factor per frame (> 1 enlarges: a zoom into the picture).
    public var zoom: Param<Double>
    /// Counter-clockwise rotation per frame, degrees.
    public var rotate: Param<Double>
    /// Movement per frame in pixels, x (right) and y (down).
    public var translate: [Param<Double>]
    /// The centre of zoom and rotation, as fractions of width and height.
    public var center: [Param<Double>]
    /// How points outside the previous frame are read.
    public var edge: WarpEdge
    /// The colour of `edge: fill`.
    public var color: [Double]
  }

  /// The warp's values at one frame.
  public struct WarpValues: Sendable, Equatable {
    /// Zoom factor.
    public var zoom: Double
    /// Degrees counter-clockwise.
    public var rotate: Double
    /// Pixels right and down.
    public var translate: (x: Double, y: Double)
    /// Centre as fractions of width and height.
    public var center: (x: Double, y: Double)

    /// The values of one frame.
    public init(
      zoom: Double, rotate: Double, translate: (x: Double, y: Double),
      center: (x: Double, y: Double)
    ) {
      self.zoom = zoom
      self.rotate = rotate
      self.translate = translate
      self.center = center
    }

    /// Compares every value.
    public static func == (a: WarpValues, b: WarpValues) -> Bool {
      a.zoom == b.zoom && a.rotate == b.rotate && a.translate == b.translate
        && a.center == b.center
    }

    /// The source-from-output map of the warp on a `width × height` image:
    /// s = C + R(θ)·(p − t − C) / zoom (see `Affine2D`).
    public func map(width: Int, height: Int) -> Affine2D {
      let cx = center.x * Double(width)
      let cy = center.y * Double(height)
      let theta = rotate * Double.pi / 180
      let (cs, sn) = (cos(theta), sin(theta))
      let k = 1 / zoom
      // s = C + k·R·(p − t − C): linear part k·R, offset C − k·R·(t + C).
      let ox = translate.x + cx
      let oy = translate.y + cy
      return Affine2D(
        a: k * cs, b: -k * sn, c: cx - k * (cs * ox - sn * oy),
        d: k * sn, e: k * cs, f: cy - k * (sn * ox + cs * oy))
    }
  }

  /// Decodes `animation:` (nil when absent). Constant warp values are checked here; values
  /// that are expressions of the frame are checked by `checkWarp` before a render starts.
  public init?(_ node: ConfigNode?, random: SeededRandom) throws(ConfigError) {
    var specs: [(path: String, spec: ParameterSpec)] = []
    try self.init(node, random: random, specs: &specs)
  }

  /// Decodes `animation:`, noting every key it reads with its section's path in `specs`.
  init?(
    _ node: ConfigNode?, random: SeededRandom, specs: inout [(path: String, spec: ParameterSpec)]
  ) throws(ConfigError) {
    guard let node, !node.isNull else { return nil }
    guard node.entries != nil else {
      throw ConfigError(
        "expected a mapping (frames, fps, epochs, warp, scenes), got \(node.kindDescription)",
        at: node.location, path: "animation")
    }
    var r = ParameterReader(node: node, path: "animation", groups: [], random: random)
    frames = try Self.bounded(
      &r, "frames", default: 24, 1...Self.maxFrames, doc: "number of frames")
    fps = try r.scalar("fps", Double.self, default: 12, doc: "frames per second of the video")
      .constantValue!
    guard fps.isFinite, fps > 0, fps <= Self.maxFPS else {
      throw ConfigError(
        "fps must be above 0 and at most \(Int(Self.maxFPS)), got \(fps)",
        at: node["fps"]?.location ?? node.location, path: "animation.fps")
    }
    epochs = try Self.bounded(
      &r, "epochs", default: 10, 0...Self.maxEpochs,
      doc: "epochs of every frame after the first (the first trains the top-level epochs)")
    warp = try Self.warp(
      try r.section("warp", doc: "the warp of the previous frame"), random, specs: &specs)
    location = node.location
    let scenesNode = try r.section(
      "scenes", doc: "prompts over frame ranges, cross-faded (expanded into every target)")
    let fade = try Self.bounded(
      &r, "fade", default: 0, 0...Self.maxFrames, doc: "cross-fade length of scenes in frames")
    try r.finish()
    specs = r.specs.map { ("animation", $0) } + specs
    var sceneSpecs: [ParameterSpec] = []
    scenes = try scenesNode.map { n throws(ConfigError) in
      try AnimationScenes(
        n, fade: fade, frames: frames, fadeLocation: node["fade"]?.location, specs: &sceneSpecs)
    }
    specs += sceneSpecs.map { ("animation.scenes[]", $0) }
  }

  /// Every key of the section with its section's path, its default and its doc: what
  /// `clipig docs --keys` lists.
  public static var keyReference: [(path: String, spec: ParameterSpec)] {
    var specs: [(path: String, spec: ParameterSpec)] = []
    if let sample = try? YAML.parse("scenes: [{text: a}]", file: "<reference>") {
      _ = try? Animation(sample, random: SeededRandom(seed: 0), specs: &specs)
    }
    return specs
  }

  static func bounded(
    _ r: inout ParameterReader, _ key: String, default value: Int, _ range: ClosedRange<Int>,
    doc: String
  ) throws(ConfigError) -> Int {
    let n = try r.scalar(key, Int.self, default: value, doc: doc).constantValue!
    guard range.contains(n) else {
      throw ConfigError(
        "\(key) must be between \(range.lowerBound) and \(range.upperBound), got \(n)",
        at: r.node[key]?.location ?? r.node.location, path: "animation.\(key)")
    }
    return n
  }

  static func warp(
    _ node: ConfigNode?, _ random: SeededRandom, specs: inout [(path: String, spec: ParameterSpec)]
  ) throws(ConfigError) -> Warp {
    let node = node ?? ConfigNode(.mapping([]), at: .synthetic("<default>"))
    guard node.entries != nil else {
      throw ConfigError(
        "expected a mapping (zoom, rotate, translate, center, edge, color), got "
          + node.kindDescription, at: node.location, path: "animation.warp")
    }
    var r = ParameterReader(node: node, path: "animation.warp", groups: .frame, random: random)
    let zoom = try r.scalar(
      "zoom", Double.self, default: 1, doc: "zoom factor per frame (above 1 zooms in)")
    let rotate = try r.scalar(
      "rotate", Double.self, default: 0, doc: "counter-clockwise rotation per frame, degrees")
    let translate = try r.list(
      "translate", Double.self, lengths: [2], default: [0, 0],
      doc: "movement per frame in pixels, right and down")
    let center = try r.list(
      "center", Double.self, lengths: [2], default: [0.5, 0.5],
      doc: "centre of zoom and rotation as fractions of width and height")
    let edge = try r.choice(
      "edge", WarpEdge.self, default: "edge",
      doc: "how points outside the previous frame are read (fill: with color)")
    let color = try r.list(
      "color", Double.self, lengths: [3], default: [0, 0, 0], groups: [],
      doc: "colour of edge: fill")
    try r.finish()
    specs += r.specs.map { ("animation.warp", $0) }
    let warp = Warp(
      zoom: zoom, rotate: rotate, translate: translate, center: center, edge: edge,
      color: color.map { $0.constantValue! })
    // Constants are checked now, expressions per frame before the render starts.
    let constants = WarpValues(
      zoom: zoom.constantValue ?? 1, rotate: rotate.constantValue ?? 0,
      translate: (translate[0].constantValue ?? 0, translate[1].constantValue ?? 0),
      center: (center[0].constantValue ?? 0.5, center[1].constantValue ?? 0.5))
    if let (param, problem) = warp.problem(constants) {
      throw ConfigError(problem, at: param.location, path: param.path)
    }
    return warp
  }

  /// The warp's values at `frame` (1…frames − 1): its expressions with the frame variables,
  /// random functions drawing from the frame's `warp` stream.
  public func warpValues(frame: Int, streams: RandomStreams) throws(StageError) -> WarpValues {
    var context = ExprContext(epoch: 0, epochs: 1)
    context.frame = frame
    context.frames = frames
    var random = streams.stream(.warp, frame)
    let w = warp
    return WarpValues(
      zoom: try w.zoom.value(in: context, random: &random),
      rotate: try w.rotate.value(in: context, random: &random),
      translate: (
        try w.translate[0].value(in: context, random: &random),
        try w.translate[1].value(in: context, random: &random)
      ),
      center: (
        try w.center[0].value(in: context, random: &random),
        try w.center[1].value(in: context, random: &random)
      ))
  }

  /// Evaluates the warp of every later frame and refuses a value out of bounds, naming the
  /// parameter's place and the frame: before any work starts.
  public func checkWarp(streams: RandomStreams) throws {
    for frame in 1..<max(frames, 1) {
      let values = try warpValues(frame: frame, streams: streams)
      if let (param, problem) = warp.problem(values) {
        throw ConfigError(problem + " at frame \(frame)", at: param.location, path: param.path)
      }
    }
  }
}

extension Animation.Warp {
  /// The largest zoom factor (its inverse is the smallest).
  static let maxZoom = 10.0
  /// The largest movement per frame in pixels.
  static let maxTranslate = 16_384.0

  /// The first parameter whose value is out of bounds, with what is wrong.
  func problem(_ v: Animation.WarpValues) -> (Param<Double>, String)? {
    if !(v.zoom >= 1 / Self.maxZoom && v.zoom <= Self.maxZoom) {
      return (zoom, "zoom must be between \(1 / Self.maxZoom) and \(Self.maxZoom), got \(v.zoom)")
    }
    if !(v.rotate.magnitude <= 360) {
      return (rotate, "rotate must be between -360 and 360 degrees, got \(v.rotate)")
    }
    for (k, t) in [v.translate.x, v.translate.y].enumerated()
    where !(t.magnitude <= Self.maxTranslate) {
      return (
        translate[k],
        "translate must be between -\(Int(Self.maxTranslate)) and \(Int(Self.maxTranslate)) "
          + "pixels, got \(t)"
      )
    }
    for (k, c) in [v.center.x, v.center.y].enumerated() where !(c.magnitude <= 100) {
      return (center[k], "center must be a fraction of the size between -100 and 100, got \(c)")
    }
    return nil
  }
}
