/// A safe interpreter for the subset of Python's pickle format that PyTorch checkpoints use.
///
/// Nothing is ever called or imported: globals are resolved against an allow-list to inert
/// values, `REDUCE`/`NEWOBJ` on them build records (tensors, ordered dictionaries, TorchScript
/// module objects), and anything else is an error naming the opcode or global and its offset.
/// The stack, memo and containers are bounded, so a hostile file cannot exhaust memory through
/// them.

/// A mutable list shared through the memo (pickle lists are references).
final class PickleList {
  private(set) var items: [PickleValue] = []
  /// Nesting depth (1 + the deepest item).
  private(set) var depth = 1

  func append(contentsOf new: [PickleValue]) {
    for item in new { depth = max(depth, item.depth + 1) }
    items += new
  }
}

/// A mutable dictionary shared through the memo; insertion order is kept, a key set again keeps
/// its place (as in Python).
final class PickleDict {
  private(set) var pairs: [(key: PickleValue, value: PickleValue)] = []
  private var stringIndex: [String: Int] = [:]
  private var intIndex: [Int: Int] = [:]
  /// Nesting depth (1 + the deepest key or value).
  private(set) var depth = 1

  /// The value for a string key.
  func value(forKey key: String) -> PickleValue? { stringIndex[key].map { pairs[$0].value } }

  /// Sets `key` to `value`.
  func set(_ key: PickleValue, _ value: PickleValue) {
    depth = max(depth, key.depth + 1, value.depth + 1)
    switch key {
    case .string(let s):
      if let i = stringIndex[s] {
        pairs[i].value = value
        return
      }
      stringIndex[s] = pairs.count
    case .int(let k):
      if let i = intIndex[k] {
        pairs[i].value = value
        return
      }
      intIndex[k] = pairs.count
    default: break
    }
    pairs.append((key, value))
  }
}

/// An object of a TorchScript class (`__torch__.…`): its class name and the state `BUILD` gave.
final class PickleObject {
  let className: String
  private(set) var state: PickleValue = .none
  /// Nesting depth (1 + the state's).
  private(set) var depth = 1
  init(className: String) { self.className = className }
  func setState(_ value: PickleValue) {
    state = value
    depth = value.depth + 1
  }
}

/// A storage named by a persistent id: `('storage', torch.HalfStorage, '0', 'cpu', 128)`.
struct PickleStorage: Equatable {
  var key: String
  var dtype: TensorDType
  var count: Int
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it.
struct PickleTensor: Equatable {
  var storage: PickleStorage
  var offset: Int
  var shape: [Int]
  var strides: [Int]
}

/// A value on the pickle stack.
indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  case float(Double)
  case string(String)
  case bytes([UInt8])
  /// A tuple and its nesting depth (use `PickleValue.tuple(_:)` to make one).
  case tuple([PickleValue], depth: Int)
  case list(PickleList)
  case dict(PickleDict)
  case global(module: String, name: String)
  case storage(PickleStorage)
  case tensor(PickleTensor)
  case object(PickleObject)

  /// A tuple of `items`.
  static func tuple(_ items: [PickleValue]) -> PickleValue {
    .tuple(items, depth: 1 + (items.map(\.depth).max() ?? 0))
  }

  /// How deeply containers nest in this value (0 for scalars); bounded so that releasing a
  /// value never recurses deeply.
  var depth: Int {
    switch self {
    case .tuple(_, let d): return d
    case .list(let l): return l.depth
    case .dict(let d): return d.depth
    case .object(let o): return o.depth
    case .storage, .tensor: return 1
    default: return 0
    }
  }

  var string: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// A short description for messages.
  var kind: String {
    switch self {
    case .none: return "None"
    case .bool: return "bool"
    case .int: return "int"
    case .float: return "float"
    case .string: return "str"
    case .bytes: return "bytes"
    case .tuple: return "tuple"
    case .list: return "list"
    case .dict: return "dict"
    case .global(let m, let n): return "\(m).\(n)"
    case .storage: return "storage"
    case .tensor: return "tensor"
    case .object(let o): return o.className
    }
  }
}

/// Runs a pickle program to its `STOP` and returns the value it leaves.
struct PickleMachine {
  /// Limits that keep hostile input bounded.
  static let maximumStack = 1 << 20
  static let maximumMemo = 1 << 22
  static let maximumContainer = 1 << 24
  static let maximumString = 1 << 26
  static let maximumDepth = 200

  private let data: UnsafeRawBufferPointer
  private let source: String
  private var position = 0
  private var stack: [PickleValue] = []
  private var marks: [Int] = []
  private var memo: [Int: PickleValue] = [:]

  /// A machine reading the pickle `data`; `source` names it in errors.
  init(data: UnsafeRawBufferPointer, source: String) {
    self.data = data
    self.source = source
  }

  private func fail(_ reason: String, at offset: Int? = nil) -> ModelStoreError {
    .checkpoint(path: source, reason: "pickle offset \(offset ?? position): \(reason)")
  }

  private mutating func byte() throws(ModelStoreError) -> UInt8 {
    guard position < data.count else { throw fail("unexpected end of data") }
    defer { position += 1 }
    return data[position]
  }

  private mutating func take(_ n: Int) throws(ModelStoreError) -> UnsafeRawBufferPointer {
    guard n >= 0, n <= data.count - position else { throw fail("unexpected end of data") }
    defer { position += n }
    return UnsafeRawBufferPointer(rebasing: data[position..<(position + n)])
  }

  private mutating func uint(_ n: Int) throws(ModelStoreError) -> UInt64 {
    let b = try take(n)
    var v: UInt64 = 0
    for i in (0..<n).reversed() { v = v << 8 | UInt64(b[i]) }
    return v
  }

  private mutating func length(_ n: Int) throws(ModelStoreError) -> Int {
    let v = try uint(n)
    guard v <= UInt64(Self.maximumString) else { throw fail("length \(v) is too large") }
    return Int(v)
  }

  private mutating func push(_ v: PickleValue) throws(ModelStoreError) {
    guard stack.count < Self.maximumStack else { throw fail("stack too deep") }
    guard v.depth <= Self.maximumDepth else { throw fail("values nest too deeply") }
    stack.append(v)
  }

  private mutating func pop() throws(ModelStoreError) -> PickleValue {
    guard stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
    return stack.removeLast()
  }

  private mutating func top() throws(ModelStoreError) -> PickleValue {
    guard let v = stack.last, stack.count > (marks.last ?? 0) else {
      throw fail("stack underflow")
    }
    return v
  }

  /// Pops everything above the last mark, and the mark.
  private mutating func popToMark() throws(ModelStoreError) -> [PickleValue] {
    guard let m = marks.popLast() else { throw fail("no mark") }
    let items = Array(stack[m...])
    stack.removeSubrange(m...)
    return items
  }

  private mutating func memoize(_ index: Int) throws(ModelStoreError) {
    guard index >= 0, index < Self.maximumMemo else { throw fail("memo index \(index) too large") }
    memo[index] = try top()
  }

  private func memoGet(_ index: Int) throws(ModelStoreError) -> PickleValue {
    guard let v = memo[index] else { throw fail("memo index \(index) was never set") }
    return v
  }

  private func text(_ bytes: UnsafeRawBufferPointer) throws(ModelStoreError) -> String {
    guard let s = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8") }
    return s
  }

  /// Executes the program; returns the value `STOP` finds on the stack.
  mutating func run() throws(ModelStoreError) -> PickleValue {
    while true {
      let at = position
      let op = try byte()
      switch op {
      case 0x80:  // PROTO
        let v = try byte()
        guard v <= 5 else { throw fail("pickle protocol \(v) is not supported", at: at) }
      case 0x95:  // FRAME (a hint only)
        _ = try uint(8)
      case 0x2E:  // STOP
        guard marks.isEmpty else { throw fail("unclosed mark at STOP", at: at) }
        let v = try pop()
        return v
      case 0x28:  // MARK
        guard marks.count < Self.maximumStack else { throw fail("too many marks", at: at) }
        marks.append(stack.count)
      case 0x4E: try push(.none)  // NONE
      case 0x88: try push(.bool(true))  // NEWTRUE
      case 0x89: try push(.bool(false))  // NEWFALSE
      case 0x4B: try push(.int(Int(try uint(1))))  // BININT1
      case 0x4D: try push(.int(Int(try uint(2))))  // BININT2
      case 0x4A:  // BININT
        try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))
      case 0x8A:  // LONG1
        let n = Int(try byte())
        guard n <= 8 else { throw fail("integer of \(n) bytes is too large", at: at) }
        if n == 0 {
          try push(.int(0))
        } else {
          var v = try uint(n)
          if n < 8, v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
          try push(.int(Int(Int64(bitPattern: v))))
        }
      case 0x47:  // BINFLOAT (big-endian)
        let b = try take(8)
        var bits: UInt64 = 0
        for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
        try push(.float(Double(bitPattern: bits)))
      case 0x58: try push(.string(try text(try take(try length(4)))))  // BINUNICODE
      case 0x8C: try push(.string(try text(try take(try length(1)))))  // SHORT_BINUNICODE
      case 0x8D: try push(.string(try text(try take(try length(8)))))  // BINUNICODE8
      case 0x55: try push(.string(try text(try take(try length(1)))))  // SHORT_BINSTRING
      case 0x54: try push(.string(try text(try take(try length(4)))))  // BINSTRING
      case 0x43: try push(.bytes(Array(try take(try length(1)))))  // SHORT_BINBYTES
      case 0x42: try push(.bytes(Array(try take(try length(4)))))  // BINBYTES
      case 0x29: try push(.tuple([]))  // EMPTY_TUPLE
      case 0x85: try push(.tuple([try pop()]))  // TUPLE1
      case 0x86:  // TUPLE2
        let b = try pop()
        let a = try pop()
        try push(.tuple([a, b]))
      case 0x87:  // TUPLE3
        let c = try pop()
        let b = try pop()
        let a = try pop()
        try push(.tuple([a, b, c]))
      case 0x74: try push(.tuple(try popToMark()))  // TUPLE
      case 0x5D: try push(.list(PickleList()))  // EMPTY_LIST
      case 0x6C:  // LIST
        let l = PickleList()
        l.append(contentsOf: try popToMark())
        try push(.list(l))
      case 0x7D: try push(.dict(PickleDict()))  // EMPTY_DICT
      case 0x64:  // DICT
        let items = try popToMark()
        guard items.count % 2 == 0 else { throw fail("odd number of dict items", at: at) }
        let d = PickleDict()
        for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
        try push(.dict(d))
      case 0x61:  // APPEND
        let v = try pop()
        try append([v], at: at)
      case 0x65:  // APPENDS
        let items = try popToMark()
        try append(items, at: at)
      case 0x73:  // SETITEM
        let v = try pop()
        let k = try pop()
        try setItems([k, v], at: at)
      case 0x75:  // SETITEMS
        let items = try popToMark()
        guard items.count % 2 == 0 else { throw fail("odd number of dict items", at: at) }
        try setItems(items, at: at)
      case 0x30: _ = try pop()  // POP
      case 0x31: _ = try popToMark()  // POP_MARK
      case 0x32: try push(try top())  // DUP
      case 0x71: try memoize(Int(try uint(1)))  // BINPUT
      case 0x72: try memoize(Int(try uint(4)))  // LONG_BINPUT
      case 0x94: try memoize(memo.count)  // MEMOIZE
      case 0x68: try push(try memoGet(Int(try uint(1))))  // BINGET
      case 0x6A: try push(try memoGet(Int(try uint(4))))  // LONG_BINGET
      case 0x63:  // GLOBAL: "module\nname\n"
        let module = try line()
        let name = try line()
        try push(try resolveGlobal(module, name, at: at))
      case 0x93:  // STACK_GLOBAL
        let name = try pop()
        let module = try pop()
        guard let m = module.string, let n = name.string else {
          throw fail("STACK_GLOBAL needs two strings", at: at)
        }
        try push(try resolveGlobal(m, n, at: at))
      case 0x51:  // BINPERSID
        let pid = try pop()
        try push(try persistentLoad(pid, at: at))
      case 0x52:  // REDUCE
        let args = try pop()
        let callable = try pop()
        guard case .tuple(let a, _) = args else {
          throw fail("REDUCE arguments are not a tuple", at: at)
        }
        try push(try reduce(callable, a, at: at))
      case 0x81:  // NEWOBJ
        let args = try pop()
        let cls = try pop()
        guard case .global(let m, let n) = cls, m.hasPrefix("__torch__"),
          case .tuple(let a, _) = args, a.isEmpty
        else { throw fail("NEWOBJ of \(cls.kind) is not allowed", at: at) }
        try push(.object(PickleObject(className: m + "." + n)))
      case 0x62:  // BUILD
        let state = try pop()
        let target = try top()
        switch target {
        case .object(let o):
          o.setState(state)
          guard o.depth <= Self.maximumDepth else { throw fail("values nest too deeply", at: at) }
        case .dict: break  // OrderedDict's instance attributes (_metadata): not needed
        case .tensor: break  // tensor attributes set by BUILD: not needed
        default: throw fail("BUILD on \(target.kind) is not allowed", at: at)
        }
      default:
        throw fail("pickle opcode 0x\(String(op, radix: 16)) is not supported", at: at)
      }
    }
  }

  private mutating func line() throws(ModelStoreError) -> String {
    var end = position
    while end < data.count, data[end] != 0x0A {
      end += 1
      guard end - position <= 1024 else { throw fail("global name too long") }
    }
    guard end < data.count else { throw fail("unexpected end of data") }
    let s = try text(UnsafeRawBufferPointer(rebasing: data[position..<end]))
    position = end + 1
    return s
  }

  private mutating func append(_ items: [PickleValue], at: Int) throws(ModelStoreError) {
    guard case .list(let l) = try top() else { throw fail("APPEND to a non-list", at: at) }
    guard l.items.count + items.count <= Self.maximumContainer else {
      throw fail("list too long", at: at)
    }
    l.append(contentsOf: items)
    guard l.depth <= Self.maximumDepth else { throw fail("values nest too deeply", at: at) }
  }

  private mutating func setItems(_ items: [PickleValue], at: Int) throws(ModelStoreError) {
    guard case .dict(let d) = try top() else { throw fail("SETITEM on a non-dict", at: at) }
    guard d.pairs.count + items.count / 2 <= Self.maximumContainer else {
      throw fail("dict too large", at: at)
    }
    for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
    guard d.depth <= Self.maximumDepth else { throw fail("values nest too deeply", at: at) }
  }

  /// Globals that may appear; everything else is refused.
  private func resolveGlobal(_ module: String, _ name: String, at: Int) throws(ModelStoreError)
    -> PickleValue
  {
    switch (module, name) {
    case ("collections", "OrderedDict"), ("builtins", "dict"),
      ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"),
      ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
      ("torch._tensor", "_rebuild_from_type_v2"), ("torch", "Tensor"),
      ("torch.nn.parameter", "Parameter"), ("torch", "device"), ("torch", "Size"),
      ("torch.jit._pickle", "build_intlist"), ("torch.jit._pickle", "build_tensorlist"),
      ("torch.jit._pickle", "build_doublelist"), ("torch.jit._pickle", "build_boollist"),
      ("torch.jit._pickle", "build_genericlist"), ("torch.jit._pickle", "restore_type_tag"):
      return .global(module: module, name: name)
    case ("torch", _) where TensorDType(storageName: name) != nil:
      return .global(module: module, name: name)
    case (let m, _) where m == "__torch__" || m.hasPrefix("__torch__."):
      return .global(module: module, name: name)
    default:
      throw fail("global \(module).\(name) is not allowed in a checkpoint", at: at)
    }
  }

  /// `('storage', torch.HalfStorage, key, location, count)` → a storage reference.
  private func persistentLoad(_ pid: PickleValue, at: Int) throws(ModelStoreError) -> PickleValue {
    guard case .tuple(let t, _) = pid, t.count == 5, t[0].string == "storage",
      case .global(_, let typeName) = t[1],
      let dtype = TensorDType(storageName: typeName),
      let key = t[2].string, case .int(let count) = t[4], count >= 0
    else { throw fail("unsupported persistent id (expected a typed storage)", at: at) }
    guard !key.isEmpty, key.utf8.count <= 64,
      key.utf8.allSatisfy({
        ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F
      })
    else { throw fail("storage key '\(key)' is not a plain name", at: at) }
    return .storage(PickleStorage(key: key, dtype: dtype, count: count))
  }

  /// The effect of calling an allowed global, computed without running anything.
  private func reduce(_ callable: PickleValue, _ args: [PickleValue], at: Int)
    throws(ModelStoreError)
    -> PickleValue
  {
    guard case .global(let module, let name) = callable else {
      throw fail("REDUCE on \(callable.kind) is not allowed", at: at)
    }
    switch (module, name) {
    case ("collections", "OrderedDict"), ("builtins", "dict"):
      guard args.isEmpty else { throw fail("\(name) with arguments is not supported", at: at) }
      return .dict(PickleDict())
    case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
      return try rebuildTensor(args, at: at)
    case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
      guard let first = args.first, case .tensor = first else {
        throw fail("\(name) without a tensor", at: at)
      }
      return first
    case ("torch._tensor", "_rebuild_from_type_v2"):
      // (function, type, arguments, state): the function must itself be an allowed rebuild.
      guard args.count >= 3, case .tuple(let inner, _) = args[2] else {
        throw fail("malformed _rebuild_from_type_v2", at: at)
      }
      return try reduce(args[0], inner, at: at)
    case ("torch.jit._pickle", "restore_type_tag"):
      guard let first = args.first else { throw fail("restore_type_tag without a value", at: at) }
      return first
    case ("torch.jit._pickle", _):
      guard let first = args.first else { throw fail("\(name) without a value", at: at) }
      return first
    case ("torch", "device"):
      return args.first ?? .none
    case ("torch", "Size"):
      return args.first ?? .tuple([])
    default:
      throw fail("calling \(module).\(name) is not allowed", at: at)
    }
  }

  private func ints(_ v: PickleValue, _ what: String, at: Int) throws(ModelStoreError) -> [Int] {
    guard case .tuple(let items, _) = v, items.count <= 64 else {
      throw fail("tensor \(what) is not a short tuple", at: at)
    }
    var out = [Int]()
    for item in items {
      guard case .int(let i) = item, i >= 0 else {
        throw fail("tensor \(what) holds a negative or non-integer value", at: at)
      }
      out.append(i)
    }
    return out
  }

  /// `(storage, offset, size, stride, …)`; the view must lie inside the storage.
  private func rebuildTensor(_ args: [PickleValue], at: Int) throws(ModelStoreError) -> PickleValue
  {
    guard args.count >= 4, case .storage(let storage) = args[0], case .int(let offset) = args[1],
      offset >= 0
    else { throw fail("malformed tensor record", at: at) }
    let shape = try ints(args[2], "size", at: at)
    let strides = try ints(args[3], "stride", at: at)
    guard shape.count == strides.count else {
      throw fail("tensor size and stride differ in length", at: at)
    }
    var count = 1
    var last = offset
    for (n, s) in zip(shape, strides) {
      let (c, o1) = count.multipliedReportingOverflow(by: n)
      guard !o1 else { throw fail("tensor too large", at: at) }
      count = c
      if n > 0 {
        let (span, o2) = (n - 1).multipliedReportingOverflow(by: s)
        let (l, o3) = last.addingReportingOverflow(span)
        guard !o2, !o3 else { throw fail("tensor too large", at: at) }
        last = l
      }
    }
    guard count <= storage.count else {
      throw fail(
        "tensor of \(count) elements views a storage of \(storage.count) (broadcast views are not "
          + "supported)", at: at)
    }
    if count > 0 {
      guard last < storage.count else {
        throw fail(
          "tensor view (offset \(offset), size \(shape), stride \(strides)) reaches past its "
            + "storage of \(storage.count) elements", at: at)
      }
    }
    return .tensor(PickleTensor(storage: storage, offset: offset, shape: shape, strides: strides))
  }
}
