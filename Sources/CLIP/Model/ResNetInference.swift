extension CLIPModel {
  /// Reads a ResNet configuration from OpenAI/open_clip tensors, as OpenAI's `build_model`
  /// does: bottlenecks per stage from the `visual.layerN.M.` names, the width from the first
  /// bottleneck, the input size from the attention pool's positions (32 px per position), heads
  /// = 32·width/64; the text tower as for a ViT.
  static func inferResNetConfig(_ file: some TensorArchive) throws -> CLIPConfig {
    let layers = try stageCounts(file)
    let first = try file.shape(of: "visual.layer1.0.conv1.weight")
    let stem = try file.shape(of: "visual.conv1.weight")
    let pos = try file.shape(of: "visual.attnpool.positional_embedding")
    let proj = try file.shape(of: "visual.attnpool.c_proj.weight")
    guard first.count == 4, stem.count == 4, pos.count == 2, proj.count == 2 else {
      throw file.configError("unexpected ResNet tensor ranks")
    }
    let width = first[0]
    guard stem == [width / 2, 3, 3, 3] else {
      throw file.configError("stem convolution \(stem) does not match width \(width)")
    }
    let grid = Int(Double(max(0, pos[0] - 1)).squareRoot().rounded())
    guard grid * grid + 1 == pos[0], pos[1] == 32 * width, proj[1] == 32 * width else {
      throw file.configError(
        "attention pool positions \(pos) / projection \(proj) do not fit width \(width)")
    }
    return CLIPConfig(
      resNet: .init(imageSize: 32 * grid, width: width, layers: layers),
      text: try inferTextConfig(file, naming: .openAI), embedDimension: proj[0])
  }

  /// Bottlenecks per stage from the `visual.layerN.M.conv1.weight` names; a stage without
  /// any is an error naming it (a ResNet tower has four, each with at least one bottleneck).
  static func stageCounts(_ file: some TensorArchive) throws -> [Int] {
    try (1...4).map { stage in
      let count = file.countLayers("visual.layer\(stage).", "conv1.weight")
      guard count > 0 else {
        throw file.configError(
          "the ResNet weights lack visual.layer\(stage) (no visual.layer\(stage).0.conv1.weight;"
            + " a ResNet image tower has four stages)")
      }
      return count
    }
  }

  /// Checks a ResNet file holds exactly the bottlenecks `config` names: open_clip refuses
  /// weights with more (unexpected keys) as well as fewer.
  static func checkStageCounts(_ file: some TensorArchive, _ config: CLIPConfig.ResNetVision)
    throws
  {
    let counts = try stageCounts(file)
    for (i, (found, expected)) in zip(counts, config.layers).enumerated() where found != expected {
      throw file.configError(
        "visual.layer\(i + 1) has \(found) bottlenecks, the configuration \(expected)")
    }
  }
}
