/// Per-channel statistics of images `[C,H,W]`, accumulated in Double.
public enum ImageStatistics {
  /// torchvision's grayscale weights for R, G, B (ITU-R 601 as rounded by PIL).
  public static let grayWeights: [Float] = [0.2989, 0.587, 0.114]

  /// The average of each channel of an image `[C,H,W]`.
  public static func channelMeans(_ x: Tensor) -> [Double] {
    precondition(x.rank == 3, "channelMeans: expected [C,H,W], got \(x.shape)")
    let (c, h, w) = x.chw
    let plane = h * w
    var means = [Double](repeating: 0, count: c)
    guard plane > 0 else { return means }
    x.scalars.withUnsafeBufferPointer { p in
      for ch in 0..<c {
        var s = 0.0
        for i in ch * plane..<(ch + 1) * plane { s += Double(p[i]) }
        means[ch] = s / Double(plane)
      }
    }
    return means
  }

  /// The gray image 0.2989·R + 0.587·G + 0.114·B of an image `[3,H,W]`, as a plane `(H·W)`,
  /// summed in torchvision's order.
  public static func gray(_ x: Tensor) -> [Float] {
    let (c, h, w) = x.chw
    precondition(x.rank == 3 && c == 3, "gray: expected [3,H,W], got \(x.shape)")
    let plane = h * w
    var g = [Float](repeating: 0, count: plane)  // (H·W)
    let (wr, wg, wb) = (grayWeights[0], grayWeights[1], grayWeights[2])
    x.scalars.withUnsafeBufferPointer { p in
      for i in 0..<plane { g[i] = wr * p[i] + wg * p[plane + i] + wb * p[2 * plane + i] }
    }
    return g
  }
}
