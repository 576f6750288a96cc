import ArgumentParser

/// The `clipig` command: renders images with CLIP from YAML experiments.
@main
struct Clipig: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clipig",
    abstract: "Render images that CLIP rates close to text prompts, from YAML experiments.",
    subcommands: [
      RenderCommand.self,
      ScheduleCommand.self,
      PreviewCommand.self,
      ExprCommand.self,
      DocsCommand.self,
      SimilarityCommand.self,
      ModelCommand.self,
      RankCommand.self,
      BatchCommand.self,
      GalleryCommand.self,
      StudioCommand.self,
      EncodeCommand.self,
      Bench.self,
    ])
}

/// `clipig bench …`: speed and memory measurements, reported as ratios, never asserted.
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure the speed of clipig's parts on this machine.",
    subcommands: [
      BenchCLIP.self,
      BenchExpr.self,
      BenchStages.self,
      BenchRender.self,
    ])
}
