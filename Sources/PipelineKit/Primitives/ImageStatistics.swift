/// Per-channel statistics of images `[C,H,W]`, accumulated in Double.
public enum ImageStatistics {
  /// torchvision's grayscale weights for R, G, B (ITU-R 601 as rounded by PIL).
  public static let grayWeights: [Float] = [0.2989, 0.587, 0.114]

  /// The average of each channel of an image `[C,H,W]`: each channel summed in order, in
  /// Double.
  ///
  /// A sum is a chain of dependent additions, so three channels are summed side by side (the
  /// same additions in the same order per channel, three chains in flight).
  public static func channelMeans(_ x: Tensor) -> [Double] {
    precondition(x.rank == 3, "channelMeans: expected [C,H,W], got \(x.shape)")
    let (c, h, w) = x.chw
    let plane = h * w
    var means = [Double](repeating: 0, count: c)
    guard plane > 0 else { return means }
    x.scalars.withUnsafeBufferPointer { all in
      guard let p = all.baseAddress else { return }
      var ch = 0
      while ch + 3 <= c {
        let (r, g, b) = (p + ch * plane, p + (ch + 1) * plane, p + (ch + 2) * plane)  // (H·W) each
        var (sr, sg, sb) = (0.0, 0.0, 0.0)
        for i in 0..<plane {
          sr += Double(r[i])
          sg += Double(g[i])
          sb += Double(b[i])
        }
        means[ch] = sr / Double(plane)
        means[ch + 1] = sg / Double(plane)
        means[ch + 2] = sb / Double(plane)
        ch += 3
      }
      for rest in ch..<c {
        let q = p + rest * plane  // (H·W)
        var s = 0.0
        for i in 0..<plane { s += Double(q[i]) }
        means[rest] = s / Double(plane)
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
