import CLIP
import Formats
import Foundation
import PipelineKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A read-only safetensors file: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw data.
///
/// The header is untrusted input. Opening checks that it fits the file, that every entry has a
/// known dtype, non-negative shape, and a byte range inside the data section whose length is
/// exactly shape × dtype size, and that ranges do not overlap. Errors name the tensor.
public final class SafeTensorsFile: @unchecked Sendable {
  /// One tensor's header entry.
  public struct Entry: Sendable, Equatable {
    /// Tensor name as stored.
    public var name: String
    /// Element type.
    public var dtype: TensorDType
    /// Extent of each axis, outermost first.
    public var shape: [Int]
    /// Byte range inside the data section.
    public var range: Range<Int>
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
  }

  /// Largest header accepted (the format's own limit is 100 MB).
  public static let maximumHeaderSize = 100_000_000

  /// Path the file was opened from (used in messages).
  public let path: String
  /// Tensors by name.
  public let entries: [String: Entry]
  /// The header's optional `__metadata__` string map.
  public let metadata: [String: String]

  private let bytes: UnsafeRawBufferPointer
  private let dataStart: Int
  private let isMapped: Bool

  /// Opens and validates `path` (memory-mapped; the data is read on demand).
  public init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw CLIPError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
      throw CLIPError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    let size = Int(st.st_size)
    guard size >= 8 else {
      throw CLIPError.safetensors(
        path: path, tensor: "", reason: "\(size) bytes, too short for a header")
    }
    guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
      throw CLIPError.unreadable(path: path, reason: "mmap: \(String(cString: strerror(errno)))")
    }
    let buffer = UnsafeRawBufferPointer(start: base, count: size)
    do {
      let parsed = try Self.parseHeader(buffer, path: path)
      self.bytes = buffer
      self.isMapped = true
      self.entries = parsed.entries
      self.metadata = parsed.metadata
      self.dataStart = parsed.dataStart
    } catch {
      munmap(base, size)
      throw error
    }
  }

  deinit {
    if isMapped, let base = bytes.baseAddress {
      munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
    }
  }

  private static func parseHeader(_ buffer: UnsafeRawBufferPointer, path: String) throws -> (
    entries: [String: Entry], metadata: [String: String], dataStart: Int
  ) {
    func fail(_ tensor: String, _ reason: String) -> CLIPError {
      .safetensors(path: path, tensor: tensor, reason: reason)
    }
    func fail(_ reason: String) -> CLIPError { fail("", reason) }
    var n: UInt64 = 0
    for i in 0..<8 { n |= UInt64(buffer[i]) << (8 * UInt64(i)) }
    guard n <= UInt64(maximumHeaderSize), Int(n) <= buffer.count - 8 else {
      throw fail("header length \(n) exceeds the file (\(buffer.count) bytes) or the 100 MB limit")
    }
    let headerEnd = 8 + Int(n)
    guard case .object(let header)? = JSONValue.parse(Data(buffer[8..<headerEnd])) else {
      throw fail("header is not a JSON object")
    }
    let dataSize = buffer.count - headerEnd
    var entries = [String: Entry]()
    var metadata = [String: String]()
    for (name, value) in header {
      if name == "__metadata__" {
        guard case .object(let map) = value else { throw fail("__metadata__ is not an object") }
        for (k, v) in map {
          guard let s = v.stringValue else {
            throw fail("__metadata__ value '\(k)' is not a string")
          }
          metadata[k] = s
        }
        continue
      }
      guard case .object = value else { throw fail(name, "entry is not an object") }
      guard let dtypeName = value["dtype"]?.stringValue else { throw fail(name, "missing dtype") }
      guard let dtype = TensorDType(rawValue: dtypeName) else {
        throw fail(name, "unknown dtype '\(dtypeName)'")
      }
      guard case .array(let shapeValues)? = value["shape"],
        let shape = Optional(shapeValues.compactMap(\.intValue)), shape.count == shapeValues.count,
        shape.allSatisfy({ $0 >= 0 })
      else { throw fail(name, "shape is not a list of non-negative integers") }
      guard case .array(let offsetValues)? = value["data_offsets"],
        let offsets = Optional(offsetValues.compactMap(\.intValue)), offsets.count == 2,
        offsetValues.count == 2
      else { throw fail(name, "data_offsets is not a pair of integers") }
      let (begin, end) = (offsets[0], offsets[1])
      guard begin >= 0, begin <= end, end <= dataSize else {
        throw fail(
          name, "data_offsets [\(begin), \(end)] outside the data section (\(dataSize) bytes)")
      }
      var count = 1
      for d in shape {
        let (p, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow else { throw fail(name, "shape \(shape) overflows") }
        count = p
      }
      let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.size)
      guard !overflow, byteCount == end - begin else {
        throw fail(
          name,
          "shape \(shape) of \(dtypeName) needs \(overflow ? "too many" : String(byteCount)) bytes, data_offsets give \(end - begin)"
        )
      }
      entries[name] = Entry(name: name, dtype: dtype, shape: shape, range: begin..<end)
    }
    let sorted = entries.values.filter { !$0.range.isEmpty }.sorted {
      $0.range.lowerBound < $1.range.lowerBound
    }
    for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
      throw fail(b.name, "data overlaps tensor '\(a.name)'")
    }
    return (entries, metadata, headerEnd)
  }

  /// The entry named `name`, or an error naming it.
  public func entry(_ name: String) throws -> Entry {
    guard let e = entries[name] else {
      throw CLIPError.safetensors(path: path, tensor: name, reason: "missing")
    }
    return e
  }

  /// Decodes tensor `name` (F32, F16, BF16 or F64) into `out`, which must hold exactly its
  /// element count; `expectedShape`, when given, must match.
  public func read(
    _ name: String, expectedShape: [Int]? = nil, into out: UnsafeMutableBufferPointer<Float>
  ) throws {
    let e = try entry(name)
    if let expectedShape, expectedShape != e.shape {
      throw CLIPError.safetensors(
        path: path, tensor: name, reason: "shape \(e.shape), expected \(expectedShape)")
    }
    guard out.count == e.count else {
      throw CLIPError.safetensors(
        path: path, tensor: name, reason: "\(e.count) elements, expected \(out.count)")
    }
    let raw = UnsafeRawBufferPointer(
      rebasing: bytes[(dataStart + e.range.lowerBound)..<(dataStart + e.range.upperBound)])
    let dtype = e.dtype
    guard dtype.isDecodedFloat else {
      throw CLIPError.safetensors(
        path: path, tensor: name, reason: "dtype \(dtype.rawValue) is not a floating-point type")
    }
    for i in 0..<e.count { out[i] = dtype.float(raw, at: i) }
  }

  /// Tensor `name` decoded to Float32.
  public func floats(_ name: String, expectedShape: [Int]? = nil) throws -> [Float] {
    let e = try entry(name)
    var out = [Float](repeating: 0, count: e.count)
    try out.withUnsafeMutableBufferPointer {
      try read(name, expectedShape: expectedShape, into: $0)
    }
    return out
  }
}
