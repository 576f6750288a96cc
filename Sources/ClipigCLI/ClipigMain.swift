import ArgumentParser
import Foundation
import PipelineKit
import Runner

/// The entry point of `clipig` and of every plugin's executable: `ClipigMain.main(plugins: [])`
/// is the stock binary, `ClipigMain.main(plugins: [MyPlugin.plugin])` a plugin's `clipig-NAME`.
///
/// Before parsing the command, the plugins the command asks for (`--plugin PATH`, and the
/// `plugins:` key of the YAML files named) are found; when they are not compiled into this
/// executable, the plugin package is built (once, release, reused while its sources are
/// unchanged) and its executable runs the same command in place of this process. Loading a
/// plugin runs its code.
public enum ClipigMain {
  /// Runs the command line with clipig's built-in stages plus those of `plugins`.
  public static func main(plugins: [ClipigPlugin]) async {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments == [PluginInfo.flag] {
      print(PluginInfo(plugins: plugins).json)
      exit(0)
    }
    let registries: StageRegistries
    do {
      registries = try PluginLauncher.prepare(arguments: arguments, embedded: plugins)
    } catch {
      FileHandle.standardError.write(Data("\(UserFacingError.text(of: error))\n".utf8))
      exit(1)
    }
    await PluginContext.$registries.withValue(registries) {
      await Clipig.main()
    }
  }
}

/// The stages of this process's commands: the built-in ones plus the compiled-in plugins',
/// set once by `ClipigMain.main` for the command it runs.
enum PluginContext {
  /// The registries every command that reads experiments uses.
  @TaskLocal static var registries = StageRegistries.builtin
}
