import PipelineKit

extension CLIPKernels {
  // MARK: Average pooling

  /// PyTorch's `AvgPool2d(f)` (kernel = stride = f, no padding, floor): out (P, H/f, W/f) =
  /// the mean of each f×f block of x (P, H, W), for `planes` independent planes (channels ×
  /// images). Trailing rows and columns that do not fill a block are dropped.
  public static func averagePoolForward(
    x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, planes: Int, height: Int,
    width: Int, factor f: Int
  ) {
    let (ho, wo) = (height / f, width / f)
    let scale = 1 / Float(f * f)
    parallelRows(planes, minimum: 4) { range in
      for p in range {
        let src = x + p * height * width  // (H, W)
        let dst = out + p * ho * wo  // (Ho, Wo)
        for oy in 0..<ho {
          let d = dst + oy * wo
          for ox in 0..<wo { d[ox] = 0 }
          for dy in 0..<f {
            let row = src + (oy * f + dy) * width
            for ox in 0..<wo {
              var s: Float = 0
              for dx in 0..<f { s += row[ox * f + dx] }
              d[ox] += s
            }
          }
          for ox in 0..<wo { d[ox] *= scale }
        }
      }
    }
  }

  /// The input gradient of `averagePoolForward`: dX (P, H, W) = dOut / f² spread over each
  /// block (overwrites; dropped rows and columns get 0).
  public static func averagePoolBackward(
    dOut: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, planes: Int, height: Int,
    width: Int, factor f: Int
  ) {
    let (ho, wo) = (height / f, width / f)
    let scale = 1 / Float(f * f)
    parallelRows(planes, minimum: 4) { range in
      for p in range {
        let src = dOut + p * ho * wo  // (Ho, Wo)
        let dst = dX + p * height * width  // (H, W)
        if ho * f != height || wo * f != width {
          dst.update(repeating: 0, count: height * width)
        }
        for oy in 0..<ho {
          let g = src + oy * wo
          for dy in 0..<f {
            let row = dst + (oy * f + dy) * width
            for ox in 0..<wo {
              let v = g[ox] * scale
              for dx in 0..<f { row[ox * f + dx] = v }
            }
          }
        }
      }
    }
  }
}
