import ExprEval

extension Param {
  /// Checks a constant now (at load time) and leaves expressions to `checked(_:in:_:)`:
  /// throws a `ConfigError` at the parameter's location when `isValid` rejects the constant.
  public func validate(_ requirement: String, _ isValid: (Value) -> Bool) throws(ConfigError) {
    if let v = constantValue, !isValid(v) {
      throw ConfigError("\(requirement), got \(v)", at: location, path: path)
    }
  }

  /// The value in `context`, rejected with a `StageError` naming the expression when
  /// `isValid` fails (constants were already checked at load by `validate`).
  public func checked(
    _ requirement: String, in context: inout StageContext, _ isValid: (Value) -> Bool
  ) throws(StageError) -> Value {
    let v = try context.value(self)
    if !isValid(v) {
      throw StageError(
        parameter: path, location: location, expression: description, context: context.variables,
        message: "\(requirement), the expression gave \(v)")
    }
    return v
  }
}

extension Array {
  /// Checks every constant of a list parameter at load time (see `Param.validate`).
  public func validate<T>(_ requirement: String, _ isValid: (T) -> Bool) throws(ConfigError)
  where Element == Param<T> {
    for p in self { try p.validate(requirement, isValid) }
  }

  /// The values of a list parameter now, each checked like `Param.checked`.
  public func checked<T>(
    _ requirement: String, in context: inout StageContext, _ isValid: (T) -> Bool
  ) throws(StageError) -> [T] where Element == Param<T> {
    var result: [T] = []
    result.reserveCapacity(count)
    for p in self { result.append(try p.checked(requirement, in: &context, isValid)) }
    return result
  }

  /// The constant values when every element is a constant, else nil.
  public func constantValues<T>() -> [T]? where Element == Param<T> {
    var result: [T] = []
    for p in self {
      guard let v = p.constantValue else { return nil }
      result.append(v)
    }
    return result
  }
}

/// The `kernel_size` and `sigma` parameters of the blurring stages (blur, edge, and the blur
/// and edge_mean constraints), with CLIPig's sanitising: an even size grows by one and is at
/// least 1, a sigma is at least 0.0001, an absent sigma is 0.15·size + 0.35. Sizes above 10001 are rejected.
public struct GaussianBlurParameters: Sendable {
  /// Kernel size (x, y) = (width, height) direction.
  public let kernelSize: [Param<Int>]
  /// Sigma (x, y), nil for the default.
  public let sigma: [Param<Double>]?
  /// The filter, built once when no parameter is an expression.
  public let constantFilter: SeparableConvolution?

  /// Reads `kernel_size` (default 3 3) and `sigma` (default null).
  public init(reading parameters: inout ParameterReader) throws(ConfigError) {
    kernelSize = try parameters.list(
      "kernel_size", Int.self, lengths: [2], default: [3, 3],
      doc: "Gaussian kernel size (x, y); an even size grows by one, at least 1")
    sigma = try parameters.optionalList(
      "sigma", Double.self, lengths: [2],
      doc: "Gaussian sigma (x, y), at least 0.0001; null: 0.15·kernel_size + 0.35")
    try kernelSize.validate(Self.sizeRequirement) { $0 <= Self.maxSize }
    if let k: [Int] = kernelSize.constantValues(), sigma.map({ $0.constantValues() != nil }) ?? true
    {
      constantFilter = Self.filter(size: k, sigma: sigma?.compactMap(\.constantValue))
    } else {
      constantFilter = nil
    }
  }

  /// The sanitised Gaussian filter for this call: reflect padding, or wrap-around when the
  /// context's image is a torus (`tiling`).
  public func filter(in context: inout StageContext) throws(StageError) -> SeparableConvolution {
    let boundary: FilterBoundary = context.tiling ? .wrap : .reflect
    if let f = constantFilter { return f.with(boundary: boundary) }
    let k = try kernelSize.checked(Self.sizeRequirement, in: &context) { $0 <= Self.maxSize }
    let s = try sigma.map { (p) throws(StageError) -> [Double] in try context.values(p) }
    return Self.filter(size: k, sigma: s).with(boundary: boundary)
  }

  /// The largest kernel size accepted (a guard against absurd allocations).
  public static let maxSize = 10_001
  static let sizeRequirement = "kernel_size must be at most \(maxSize)"

  static func filter(size: [Int], sigma: [Double]?) -> SeparableConvolution {
    let kx = GaussianKernel.sanitizedSize(size[0])
    let ky = GaussianKernel.sanitizedSize(size[1])
    return SeparableConvolution.gaussian(
      sizeX: kx, sizeY: ky,
      sigmaX: sigma.map { GaussianKernel.sanitizedSigma($0[0]) },
      sigmaY: sigma.map { GaussianKernel.sanitizedSigma($0[1]) })
  }
}
