import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// A stage name for `Named`.
private protocol NameTag { static var name: String { get } }

/// A stage for registry tests: `name` is what the test needs, the rest is never run.
private struct Named<Tag: NameTag>: Stage {
  static var name: String { Tag.name }
  static var summary: String { "test stage" }
  static var traits: StageTraits { [.linear] }
  static var examples: [StageExample] { [] }
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) { (x, { $0 }) }
}

/// A plugin's transform that fails on its own (no parameter of its) from the second epoch on.
private struct Explode: Stage {
  static let name = "explode"
  static let summary = "fails from the second epoch on"
  static let traits: StageTraits = [.linear]
  static let examples: [StageExample] = []
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    if context.variables.epoch >= 1 {
      throw StageError(
        parameter: "", location: .synthetic("<plugin>"), expression: "",
        context: context.variables, message: "the lens cracked")
    }
    return (x, { $0 })
  }
}

// Stage names.
private enum Blur: NameTag { static let name = "blur" }
private enum Mean: NameTag { static let name = "mean" }
private enum Sparkle: NameTag { static let name = "sparkle" }
private enum Glow: NameTag { static let name = "glow" }
private enum Spaced: NameTag { static let name = "my stage" }

/// Plugins joining a run's registries: their stages are added after the built-ins; a clash with
/// a built-in or another plugin and a name that is no YAML key are errors naming both sides.
@Suite("Plugin registries")
struct PluginRegistryTests {
  @Test func pluginStagesJoinTheBuiltIns() throws {
    let plugin = ClipigPlugin(
      name: "fx", transforms: [Named<Sparkle>.self], constraints: [Named<Glow>.self])
    let record = PluginRecord(name: "fx", path: "/p/fx", sha256: "ab")
    let registries = try StageRegistries(plugins: [plugin], records: [record])
    #expect(registries.transforms["sparkle"] != nil)
    #expect(registries.constraints["glow"] != nil)
    #expect(registries.transforms["glow"] == nil)
    #expect(registries.transforms.names.count == StageRegistry.transforms.names.count + 1)
    #expect(registries.plugins == [record])
  }

  @Test func aClashWithABuiltInNamesBoth() {
    let plugin = ClipigPlugin(name: "fx", transforms: [Named<Blur>.self])
    #expect(StageRegistry.transforms["blur"] != nil)
    do {
      _ = try StageRegistries(plugins: [plugin])
      Issue.record("a clash with the built-in blur was accepted")
    } catch {
      #expect(
        error.description
          == "error: plugin 'fx' transform 'blur' clashes with the built-in transform 'blur'; "
          + "rename the plugin's stage")
    }
    let constraint = ClipigPlugin(name: "c", constraints: [Named<Mean>.self])
    #expect(throws: PluginError.self) { try StageRegistries(plugins: [constraint]) }
  }

  @Test func aClashBetweenTwoPluginsNamesBoth() {
    let a = ClipigPlugin(name: "first", transforms: [Named<Sparkle>.self])
    let b = ClipigPlugin(name: "second", transforms: [Named<Sparkle>.self])
    do {
      _ = try StageRegistries(plugins: [a, b])
      Issue.record("two plugins with one stage name were accepted")
    } catch {
      #expect(error.description.contains("plugin 'second' transform 'sparkle'"))
      #expect(error.description.contains("plugin 'first' transform 'sparkle'"))
    }
  }

  @Test func aNameThatIsNoYAMLKeyIsRefused() {
    #expect(!ClipigPlugin.isValidStageName("my stage"))
    #expect(!ClipigPlugin.isValidStageName("3d"))
    #expect(!ClipigPlugin.isValidStageName(""))
    #expect(ClipigPlugin.isValidStageName("_x2"))
    let plugin = ClipigPlugin(name: "fx", transforms: [Named<Spaced>.self])
    do {
      _ = try StageRegistries(plugins: [plugin])
      Issue.record("a stage name with spaces and brackets was accepted")
    } catch {
      #expect(error.description.contains("which is not a YAML key"))
    }
  }

  @Test func theSourceDigestFollowsTheSources() throws {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-digest-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try FileManager.default.createDirectory(
      atPath: dir + "/Sources/p", withIntermediateDirectories: true)
    try Data("// manifest\n".utf8).write(to: URL(fileURLWithPath: dir + "/Package.swift"))
    try Data("let a = 1\n".utf8).write(to: URL(fileURLWithPath: dir + "/Sources/p/A.swift"))
    let first = try PluginSource.digest(ofPackage: dir)
    #expect(try PluginSource.digest(ofPackage: dir) == first)
    #expect(first.count == 64)
    try Data("let a = 2\n".utf8).write(to: URL(fileURLWithPath: dir + "/Sources/p/A.swift"))
    #expect(try PluginSource.digest(ofPackage: dir) != first)
    #expect(PluginSource.packageDirectory(ofSource: dir + "/Sources/p/A.swift") != nil)
  }

  /// A plugin stage that throws in `forward` stops the run with an error naming the stage by
  /// its place in the YAML; the image of the last good epoch and its sidecar are kept.
  @Test func aThrowingPluginStageStopsTheRunNamingItAndKeepsTheLastImage() throws {
    let dir = try TestFiles.temporaryDirectory("plugin-throws")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try TestFiles.write(
      """
      epochs: 4
      resolution: 16
      snapshot_interval: 0
      targets:
        - batch_size: 1
          features: [{text: a}]
          transforms:
            - explode:
      """, to: dir + "/exp.yaml")
    var options = RenderOptions()
    options.configFiles = [dir + "/exp.yaml"]
    options.output = dir + "/out.png"
    options.overrides.model = TestFiles.tinyModel
    options.seed = 1
    options.verbosity = 0
    options.registries = try StageRegistries(
      plugins: [ClipigPlugin(name: "fx", transforms: [Explode.self])])
    do {
      _ = try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in })
      Issue.record("the run did not stop")
    } catch let error as StageError {
      #expect(error.parameter == "targets[0].transforms[0].explode", "\(error)")
      #expect("\(error)".contains("the lens cracked"), "\(error)")
      #expect(error.context.epoch == 1, "\(error)")
    }
    #expect(FileManager.default.fileExists(atPath: dir + "/out.png"))
    let sidecar = try TestFiles.read(dir + "/out.yaml")
    #expect(sidecar.contains("stopped by an error at epoch 2"), "\(sidecar)")
    #expect(sidecar.contains("explode"), "\(sidecar)")
  }
}
