// A custom transform in three steps: write a `Stage` (Vignette.swift), register it, prove its
// gradient. Run: swift run CustomTransform
import PipelineKit
import PipelineKitTesting
import Transforms

// 1. Register: a registry is a value; this one knows every built-in transform plus ours.
let registry = StageRegistry.transforms.adding(Vignette.self)

// 2. Use it by name, exactly as a YAML experiment would (`- vignette: 0.7`).
let stage = try registry.make(
  name: "vignette", parameters: 0.7, path: "targets[0].transforms[0]",
  keyLocation: .synthetic("example"))
var context = StageContext()
let image = Tensor(shape: [3, 4, 4], repeating: 1)
let (out, _) = try stage.forward(image, in: &context)
print("corner \(out.scalars[0]), centre \(out.scalars[5])")

// 3. Prove the pullback with the same harness every built-in stage passes.
let failures = GradientHarness.check(Vignette.self)
print(
  failures.isEmpty
    ? "vignette: gradient harness passed" : failures.map(\.description).joined(separator: "\n"))
struct HarnessFailed: Error {}
if !failures.isEmpty { throw HarnessFailed() }
