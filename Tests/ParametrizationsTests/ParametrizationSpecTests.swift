import Formats
import Parametrizations
import PipelineKit
import Testing

@Suite("parametrization: section")
struct ParametrizationSpecTests {
  private func spec(_ yaml: String) throws(ConfigError) -> ParametrizationSpec {
    let root = try YAML.parse(yaml, file: "exp.yaml")
    return try ParametrizationSpec(root["parametrization"])
  }

  private func error(_ yaml: String) -> ConfigError? {
    do {
      _ = try spec(yaml)
      return nil
    } catch {
      return error
    }
  }

  @Test func defaultsArePixels() throws {
    #expect(try spec("epochs: 3") == ParametrizationSpec())
    #expect(try spec("parametrization:") == ParametrizationSpec())
    let p = ParametrizationSpec().make(width: 4, height: 3)
    #expect(p is PixelParametrization && p.parameterCount == 36)
  }

  @Test func fullAndShortForms() throws {
    #expect(try spec("parametrization: fft") == ParametrizationSpec(kind: .fft))
    let full = try spec(
      "parametrization: {type: fft, decay: 1.5, colors: decorrelated, mapping: sigmoid}")
    #expect(
      full == ParametrizationSpec(kind: .fft, decay: 1.5, colors: .decorrelated, mapping: .sigmoid))
    #expect(full.make(width: 8, height: 6).parameterCount == 3 * 6 * 5 * 2)
    #expect(try spec("parametrization: {colors: decorrelated}").kind == .pixels)
  }

  @Test func misspellingsNameTheKeyAndSuggest() throws {
    let type = try #require(error("parametrization: {type: fff}"))
    #expect(type.path == "parametrization.type")
    #expect(type.message.contains("'fff'") && type.message.contains("fft"))
    #expect(type.location.line == 1)
    let short = try #require(error("epochs: 1\nparametrization: pixel"))
    #expect(short.message.contains("pixels") && short.location.line == 2)
    let colors = try #require(error("parametrization: {type: fft, colors: decorelated}"))
    #expect(colors.path == "parametrization.colors" && colors.message.contains("decorrelated"))
    let mapping = try #require(error("parametrization: {mapping: tanh}"))
    #expect(mapping.message.contains("clamp") && mapping.message.contains("sigmoid"))
    let key = try #require(error("parametrization: {type: fft, decai: 1}"))
    #expect(key.path == "parametrization.decai" && key.message.contains("decay"))
  }

  @Test func badDecaysAreRefused() throws {
    let pixels = try #require(error("parametrization: {decay: 1}"))
    #expect(pixels.message.contains("fft") && pixels.path == "parametrization.decay")
    #expect(error("parametrization: {type: fft, decay: -1}")?.path == "parametrization.decay")
    #expect(error("parametrization: {type: fft, decay: 9}") != nil)
    #expect(error("parametrization: {type: fft, decay: abc}") != nil)
    #expect(error("parametrization: [fft]") != nil)
  }
}
