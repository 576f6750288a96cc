import ArgumentParser
import Dispatch
import Formats
import Foundation
import PipelineKit
import Runner
import Studio

/// `clipig studio [exp.yaml …]`: the live editor as a local web app (CLIPig's GUI).
struct StudioCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "studio",
    abstract: "Edit experiments in a browser while they train (a local web app).",
    discussion: """
      Prints a URL with a secret token; open it in a browser on this machine. Ctrl-C saves the \
      running experiment's image and YAML into the output folder and exits.
      """)

  @Argument(help: "YAML experiment files, each opened as a tab.")
  var files: [String] = []

  @Option(help: "TCP port (0: any free port).")
  var port: Int = 8000

  @Option(
    name: .customLong("host"),
    help: "Address to listen on (repeatable; default 127.0.0.1 and ::1). Open the page by it.")
  var hosts: [String] = []

  @OptionGroup var model: ModelOption

  @OptionGroup var plugins: PluginOptions

  @Option(name: .shortAndLong, help: "Output folder for Save and Ctrl-C.")
  var output: String = "./"

  func validate() throws {
    guard (0...65535).contains(port) else {
      throw ValidationError("--port \(port): a TCP port is 1…65535 (or 0 for any free port)")
    }
  }

  func run() async throws {
    var configuration = StudioConfiguration()
    configuration.files = files
    configuration.registries = PluginContext.registries
    configuration.port = port
    if !hosts.isEmpty { configuration.hosts = hosts }
    configuration.model = model.model
    configuration.outputDirectory = output
    let server: StudioServer
    do {
      try FileIO.createFolder(output)
    } catch {
      StandardStream.error.write(
        "error: -o \(output): \(error.message); the studio saves into a folder\n")
      throw ExitCode.failure
    }
    do {
      server = try StudioServer(configuration: configuration)
    } catch {
      StandardStream.error.write(UserFacingError.text(of: error) + "\n")
      throw ExitCode.failure
    }
    let sources = installSignalHandlers(server)
    defer { _ = sources }
    Task {
      let url = await server.url()
      StandardStream.output.write("clipig studio: open \(url)\n")
    }
    do {
      try await server.run()
    } catch {
      StandardStream.error.write(UserFacingError.text(of: error) + "\n")
      throw ExitCode.failure
    }
  }

  /// Ctrl-C / SIGTERM: save what is running, then exit 130; a second signal exits at once.
  func installSignalHandlers(_ server: StudioServer) -> [any DispatchSourceSignal] {
    let stopping = InterruptFlag()
    return [SIGINT, SIGTERM].map { (sig: Int32) in
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler {
        if stopping.isSet { Foundation.exit(130) }
        stopping.set()
        StandardStream.error.write("clipig studio: stopping…\n")
        DispatchQueue.global().async {
          _ = server.shutdown()
          Foundation.exit(130)
        }
      }
      source.resume()
      return source
    }
  }
}
