import ArgumentParser
import Runner

/// `clipig encode NAME/`: the MP4 of an animation's frames, made later (when the render ran
/// without ffmpeg on PATH).
struct EncodeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "encode",
    abstract: "Encode an animation's frame folder (NAME/frame-*.png) as NAME.mp4 with ffmpeg.")

  @Argument(help: "The frame folder an animation wrote (NAME/).")
  var folder: String

  @Option(help: "Frames per second (default: the animation's fps from NAME.yaml, else 12).")
  var fps: Double?

  @Option(name: .shortAndLong, help: "The video file (default: NAME.mp4 beside the folder).")
  var output: String?

  func run() throws {
    try reportingConfigErrors {
      let path = try AnimationVideo.encode(directory: folder, fps: fps, output: output)
      print(path)
    }
  }
}
