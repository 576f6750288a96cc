/// A PyTorch checkpoint in the zip format: OpenAI's TorchScript CLIP files (`ViT-B-32.pt`, written
/// by `torch.jit.save`) and plain `torch.save(state_dict)` files.
///
/// The archive holds `<name>/data.pkl` (a pickle describing the module tree or the state dict,
/// with tensors as `torch._utils._rebuild_tensor_v2` records naming a storage) and
/// `<name>/data/<key>` (the raw little-endian storages; fp16 in OpenAI's files). Opening reads
/// the pickle with a safe interpreter (no code runs; see `PickleMachine`), resolves each tensor
/// to its storage and checks that every view lies inside its storage and every storage has the
/// size its record declares. Tensor names are those of `state_dict()` (OpenAI / open_clip names
/// such as `visual.conv1.weight`); for TorchScript modules the parameter and buffer lists in the
/// archive's `code/` decide which tensor attributes belong to the state dict, as in PyTorch.
public final class TorchCheckpoint: @unchecked Sendable {
  /// What the archive contains.
  public enum Format: String, Sendable {
    /// A TorchScript module (`torch.jit.save`), as OpenAI distributes CLIP.
    case torchScript
    /// A state dictionary (`torch.save(model.state_dict())`).
    case stateDict
  }

  /// One tensor of the state dict.
  public struct Entry: Sendable, Equatable {
    /// State-dict name, e.g. `visual.transformer.resblocks.0.attn.in_proj_weight`.
    public var name: String
    /// Element type as stored.
    public var dtype: TensorDType
    /// Extent of each axis, outermost first.
    public var shape: [Int]
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Storage key (`data/<key>` in the archive), element offset and strides.
    var storage: String
    var offset: Int
    var strides: [Int]
  }

  /// Largest pickle accepted.
  static let maximumPickleSize = 256 << 20

  /// Path the checkpoint was opened from (used in messages).
  public let path: String
  /// TorchScript module or plain state dict.
  public let format: Format
  /// Tensor names in the checkpoint's own order.
  public let names: [String]
  /// Tensors by name.
  public let entries: [String: Entry]

  private let archive: ZipArchive
  /// Archive entry of each storage key.
  private let storages: [String: ZipArchive.Entry]

  /// Opens and validates the checkpoint at `path`.
  public init(path: String) throws(ModelStoreError) {
    self.path = path
    func fail(_ reason: String) -> ModelStoreError { .checkpoint(path: path, reason: reason) }
    let file = try MappedFile(path: path)
    if file.bytes.count >= 2, file.bytes[0] == 0x80, file.bytes[1] <= 5 {
      throw fail(
        "it is in PyTorch's legacy (pre-1.6) format, which clipig does not read; load it in "
          + "PyTorch and save it again with torch.save")
    }
    let archive = try ZipArchive(file: file)
    self.archive = archive
    // The pickle is `<prefix>/data.pkl` for one top-level folder.
    let pickles = archive.entries.filter {
      $0.name.hasSuffix("/data.pkl") && $0.name.dropLast(9).allSatisfy { $0 != "/" }
    }
    guard pickles.count == 1, let pickle = pickles.first else {
      throw fail(
        pickles.isEmpty
          ? "no data.pkl in the archive (not a PyTorch checkpoint)"
          : "more than one data.pkl in the archive")
    }
    let prefix = String(pickle.name.dropLast(8))  // keeps the slash
    if let order = archive.entry(prefix + "byteorder") {
      let text = try archive.contents(order, maximumSize: 64)
      guard String(decoding: text, as: UTF8.self).hasPrefix("little") else {
        throw fail("its tensors are stored big-endian")
      }
    }
    let root = try archive.withContents(pickle, maximumSize: Self.maximumPickleSize) {
      (bytes) throws(ModelStoreError) -> PickleValue in
      var machine = PickleMachine(data: bytes, source: path)
      return try machine.run()
    }

    var found: [(String, PickleTensor)] = []
    switch root {
    case .object(let module):
      format = .torchScript
      var walker = ModuleWalker(archive: archive, prefix: prefix, path: path)
      var onPath = Set<ObjectIdentifier>()
      try walker.walk(module, name: "", depth: 0, onPath: &onPath, into: &found)
    case .dict(let d):
      format = .stateDict
      found = Self.tensors(in: d)
      if found.isEmpty {
        for key in ["state_dict", "model"] {
          if case .dict(let inner)? = d.value(forKey: key) {
            found = Self.tensors(in: inner)
            if !found.isEmpty { break }
          }
        }
      }
    default:
      throw fail("data.pkl holds a \(root.kind), not a module or a state dict")
    }
    guard !found.isEmpty else { throw fail("it contains no tensors") }

    var entries = [String: Entry]()
    var names = [String]()
    var storages = [String: ZipArchive.Entry]()
    var storageTypes = [String: PickleStorage]()
    for (name, t) in found {
      guard entries[name] == nil else { throw fail("tensor \(name) appears twice") }
      if let seen = storageTypes[t.storage.key] {
        guard seen == t.storage else {
          throw fail("storage \(t.storage.key) is described in two different ways")
        }
      } else {
        guard let e = archive.entry(prefix + "data/" + t.storage.key) else {
          throw fail("storage data/\(t.storage.key) of tensor \(name) is missing")
        }
        let (bytes, overflow) = t.storage.count.multipliedReportingOverflow(
          by: t.storage.dtype.size)
        guard !overflow, e.size == bytes else {
          throw fail(
            "storage data/\(t.storage.key) has \(e.size) bytes, its record says "
              + "\(t.storage.count) × \(t.storage.dtype.size)")
        }
        storages[t.storage.key] = e
        storageTypes[t.storage.key] = t.storage
      }
      names.append(name)
      entries[name] = Entry(
        name: name, dtype: t.storage.dtype, shape: t.shape, storage: t.storage.key,
        offset: t.offset, strides: t.strides)
    }
    self.names = names
    self.entries = entries
    self.storages = storages
  }

  /// The string-keyed tensors of a state dict, in order.
  private static func tensors(in d: PickleDict) -> [(String, PickleTensor)] {
    d.pairs.compactMap { pair in
      guard let key = pair.key.string, case .tensor(let t) = pair.value else { return nil }
      return (key, t)
    }
  }

  /// The entry called `name`; throws naming the tensor if it is absent.
  public func entry(_ name: String) throws(ModelStoreError) -> Entry {
    guard let e = entries[name] else {
      throw .checkpoint(path: path, reason: "tensor \(name) is missing")
    }
    return e
  }

  /// The elements of tensor `name` in row-major order, in their stored dtype, little-endian.
  public func data(_ name: String) throws(ModelStoreError) -> [UInt8] {
    let e = try entry(name)
    let size = e.dtype.size
    var out = [UInt8](repeating: 0, count: e.count * size)
    try gather(e) { source, index, outIndex in
      out.withUnsafeMutableBytes { dst in
        dst.baseAddress.unsafelyUnwrapped.advanced(by: outIndex * size)
          .copyMemory(from: source.baseAddress.unsafelyUnwrapped + index * size, byteCount: size)
      }
    } contiguous: { source, start, count in
      out.withUnsafeMutableBytes { dst in
        dst.baseAddress.unsafelyUnwrapped.copyMemory(
          from: source.baseAddress.unsafelyUnwrapped + start * size, byteCount: count * size)
      }
    }
    return out
  }

  /// The elements of tensor `name` as Float32 in row-major order; `expectedShape`, if given, must
  /// match. Half, bfloat16, double and integer storages are converted.
  public func floats(_ name: String, expectedShape: [Int]? = nil) throws(ModelStoreError)
    -> [Float]
  {
    let e = try entry(name)
    if let expectedShape, expectedShape != e.shape {
      throw .checkpoint(
        path: path, reason: "tensor \(name) has shape \(e.shape), expected \(expectedShape)")
    }
    var out = [Float](repeating: 0, count: e.count)
    let dtype = e.dtype
    let result = out.withUnsafeMutableBufferPointer { dst in
      Result { () throws(ModelStoreError) in
        try gather(e) { source, index, outIndex in
          dst[outIndex] = dtype.float(source, at: index)
        } contiguous: { source, start, count in
          for i in 0..<count { dst[i] = dtype.float(source, at: start + i) }
        }
      }
    }
    try result.get()
    return out
  }

  /// Visits the elements of `e` in row-major order: `contiguous` once when the view is dense,
  /// else `element(storage, storageIndex, outputIndex)` for each element.
  private func gather(
    _ e: Entry,
    element: (UnsafeRawBufferPointer, Int, Int) -> Void,
    contiguous: (UnsafeRawBufferPointer, Int, Int) -> Void
  ) throws(ModelStoreError) {
    guard let storage = storages[e.storage] else {
      throw .checkpoint(path: path, reason: "storage of \(e.name) is missing")
    }
    let count = e.count
    if count == 0 { return }
    try archive.withContents(storage) { (bytes) throws(ModelStoreError) in
      // Bounds were checked at open (view inside storage, storage size exact); check again
      // cheaply since the bytes come from the archive now.
      guard bytes.count == storage.size else {
        throw .checkpoint(path: path, reason: "storage of \(e.name) changed size")
      }
      var dense = true
      var expected = 1
      for axis in stride(from: e.shape.count - 1, through: 0, by: -1) where e.shape[axis] != 1 {
        if e.strides[axis] != expected { dense = false }
        expected *= e.shape[axis]
      }
      if dense {
        contiguous(bytes, e.offset, count)
        return
      }
      var index = [Int](repeating: 0, count: e.shape.count)
      var position = e.offset
      for out in 0..<count {
        element(bytes, position, out)
        var axis = e.shape.count - 1
        while axis >= 0 {
          index[axis] += 1
          position += e.strides[axis]
          if index[axis] < e.shape[axis] { break }
          position -= e.strides[axis] * e.shape[axis]
          index[axis] = 0
          axis -= 1
        }
      }
    }
  }
}

/// Collects the state-dict tensors of a TorchScript module tree.
private struct ModuleWalker {
  let archive: ZipArchive
  let prefix: String
  let path: String
  /// Parameter and buffer names of each class, nil where the archive's code does not say.
  private var stateNames: [String: Set<String>?] = [:]
  private var visited = 0

  static let maximumDepth = 64
  static let maximumModules = 1_000_000

  init(archive: ZipArchive, prefix: String, path: String) {
    self.archive = archive
    self.prefix = prefix
    self.path = path
  }

  private func fail(_ reason: String) -> ModelStoreError {
    .checkpoint(path: path, reason: reason)
  }

  mutating func walk(
    _ module: PickleObject, name: String, depth: Int, onPath: inout Set<ObjectIdentifier>,
    into found: inout [(String, PickleTensor)]
  ) throws(ModelStoreError) {
    visited += 1
    guard depth <= Self.maximumDepth, visited <= Self.maximumModules else {
      throw fail("the module tree is too deep or too large")
    }
    guard onPath.insert(ObjectIdentifier(module)).inserted else {
      throw fail("module \(name) contains itself")
    }
    defer { onPath.remove(ObjectIdentifier(module)) }
    guard case .dict(let attributes) = module.state else { return }
    let allowed = try names(of: module.className)
    for (key, value) in attributes.pairs {
      guard let key = key.string else { continue }
      switch value {
      case .tensor(let t):
        if allowed?.contains(key) ?? true { found.append((name + key, t)) }
      case .object(let child):
        try walk(child, name: name + key + ".", depth: depth + 1, onPath: &onPath, into: &found)
      default:
        continue
      }
    }
  }

  /// `__parameters__` ∪ `__buffers__` of a class from `code/<module path>.py`.
  private mutating func names(of className: String) throws(ModelStoreError) -> Set<String>? {
    if let cached = stateNames[className] { return cached }
    var parts = className.split(separator: ".").map(String.init)
    guard parts.count >= 2, let cls = parts.popLast() else {
      stateNames[className] = .some(nil)
      return nil
    }
    var result: Set<String>?
    if let entry = archive.entry(prefix + "code/" + parts.joined(separator: "/") + ".py") {
      let text = String(decoding: try archive.contents(entry, maximumSize: 64 << 20), as: UTF8.self)
      result = Self.stateNames(of: cls, in: text)
    }
    stateNames[className] = .some(result)
    return result
  }

  /// Reads `__parameters__ = ["a", "b", ]` and `__buffers__ = [...]` in `class <cls>(…):`.
  static func stateNames(of cls: String, in text: String) -> Set<String>? {
    var inClass = false
    var names = Set<String>()
    var sawList = false
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      if !line.hasPrefix(" ") && !line.isEmpty {
        if inClass { break }
        inClass = line.hasPrefix("class \(cls)(") || line.hasPrefix("class \(cls):")
        continue
      }
      guard inClass else { continue }
      let trimmed = line.drop { $0 == " " }
      guard trimmed.hasPrefix("__parameters__ =") || trimmed.hasPrefix("__buffers__ =") else {
        continue
      }
      sawList = true
      let quoted = trimmed.split(separator: "\"", omittingEmptySubsequences: false)
      for (i, piece) in quoted.enumerated() where i % 2 == 1 { names.insert(String(piece)) }
    }
    return sawList ? names : nil
  }
}
