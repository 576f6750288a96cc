import PipelineKit
import PipelineKitTesting
import Testing
import Transforms

@Suite("Built-in transforms")
struct BuiltinTransformTests {
  @Test func everyRegisteredTransformPassesTheGradientHarness() {
    let failures = GradientHarness.check(registry: .transforms)
    #expect(failures.isEmpty, "\(failures.map(\.description).joined(separator: "\n"))")
  }

  @Test func registryLooksUpByNameAndSuggests() {
    #expect(StageRegistry.transforms["mul"] != nil)
    do {
      _ = try StageRegistry.transforms.make(
        name: "mull", parameters: 0.5, path: "targets[0].transforms[0]",
        keyLocation: SourceLocation(file: "a.yaml", line: 7, column: 9))
      Issue.record("unknown stage accepted")
    } catch {
      #expect(
        error.description
          == "a.yaml:7:9: error: 'targets[0].transforms[0]': unknown transform 'mull' (did you mean 'mul'?)"
      )
    }
  }

  @Test func addAndMulByHand() throws {
    let x = Tensor(shape: [3, 1, 2], scalars: [0, 1, 2, 3, 4, 5])
    var context = StageContext()
    let add = try StageRegistry.transforms.make(
      name: "add", parameters: "1 2 3", path: "add", keyLocation: .synthetic(""))
    #expect(try add.forward(x, in: &context).value.scalars == [1, 2, 4, 5, 7, 8])
    let mul = try StageRegistry.transforms.make(
      name: "mul", parameters: "1/2", path: "mul", keyLocation: .synthetic(""))
    let (y, pb) = try mul.forward(x, in: &context)
    #expect(y.scalars == [0, 0.5, 1, 1.5, 2, 2.5])
    #expect(pb(Tensor(shape: [3, 1, 2], repeating: 1)).scalars == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
  }
}
