import CLIP
import Formats

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A whole file mapped read-only into memory.
final class MappedFile: @unchecked Sendable {
  /// Path the file was opened from (used in messages).
  let path: String
  /// The file's bytes; valid as long as this object lives.
  let bytes: UnsafeRawBufferPointer
  private let mapping: UnsafeMutableRawPointer?

  /// Maps `path`; fails for missing, unreadable or non-regular files.
  init(path: String) throws(ModelStoreError) {
    self.path = path
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw .io(path: path, reason: String(cString: strerror(errno)))
    }
    guard (info.st_mode & S_IFMT) == S_IFREG else {
      throw .io(path: path, reason: "not a regular file")
    }
    let size = Int(info.st_size)
    if size == 0 {
      mapping = nil
      bytes = UnsafeRawBufferPointer(start: nil, count: 0)
      return
    }
    let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let p, p != MAP_FAILED else {
      throw .io(path: path, reason: String(cString: strerror(errno)))
    }
    mapping = p
    bytes = UnsafeRawBufferPointer(start: p, count: size)
  }

  deinit {
    if let mapping { munmap(mapping, bytes.count) }
  }
}

/// Little-endian reads inside a byte range, every one bounds-checked.
struct ByteReader {
  let bytes: UnsafeRawBufferPointer

  /// `count` bytes at `offset` exist.
  func has(_ offset: Int, _ count: Int) -> Bool {
    offset >= 0 && count >= 0 && offset <= bytes.count && count <= bytes.count - offset
  }

  func u16(_ offset: Int) -> UInt16? {
    guard has(offset, 2) else { return nil }
    return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
  }

  func u32(_ offset: Int) -> UInt32? {
    guard has(offset, 4) else { return nil }
    return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
  }

  func u64(_ offset: Int) -> UInt64? {
    guard has(offset, 8) else { return nil }
    return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
  }

  func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
    guard has(offset, count) else { return nil }
    return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
  }
}

/// A read-only zip archive (what `torch.save` and `torch.jit.save` write): the central
/// directory, ZIP64 records, stored and deflated entries, CRC-32 checked on every read.
///
/// The archive is untrusted input: every size and offset is checked against the file before
/// use, entries may not overlap the central directory, and inflated sizes must match.
struct ZipArchive {
  /// One file in the archive.
  struct Entry: Equatable {
    var name: String
    var method: UInt16
    var crc32: UInt32
    var compressedSize: Int
    var size: Int
    var localHeaderOffset: Int
  }

  /// Largest number of entries accepted.
  static let maximumEntries = 1_000_000

  let file: MappedFile
  let entries: [Entry]
  private let index: [String: Int]

  private func fail(_ reason: String) -> ModelStoreError {
    .checkpoint(path: file.path, reason: reason)
  }

  /// Reads the central directory of `file`.
  init(file: MappedFile) throws(ModelStoreError) {
    self.file = file
    let r = ByteReader(bytes: file.bytes)
    func fail(_ reason: String) -> ModelStoreError {
      .checkpoint(path: file.path, reason: reason)
    }
    // End of central directory: 22 bytes plus a comment of up to 65535 bytes, at the end.
    let n = file.bytes.count
    guard n >= 22 else { throw fail("too short to be a zip archive") }
    var eocd = -1
    var p = n - 22
    let lowest = max(0, n - 22 - 65535)
    while p >= lowest {
      if r.u32(p) == 0x0605_4b50 {
        eocd = p
        break
      }
      p -= 1
    }
    guard eocd >= 0, let count16 = r.u16(eocd + 10), let size32 = r.u32(eocd + 12),
      let offset32 = r.u32(eocd + 16)
    else { throw fail("not a zip archive (no end of central directory)") }
    var count = Int(count16)
    var directorySize = Int(size32)
    var directoryOffset = Int(offset32)
    if count16 == 0xFFFF || size32 == 0xFFFF_FFFF || offset32 == 0xFFFF_FFFF {
      // ZIP64: a locator just before the end record points at the ZIP64 end record.
      guard eocd >= 20, r.u32(eocd - 20) == 0x0706_4b50, let at64 = r.u64(eocd - 12),
        at64 < UInt64(n), r.u32(Int(at64)) == 0x0606_4b50,
        let c64 = r.u64(Int(at64) + 32), let s64 = r.u64(Int(at64) + 40),
        let o64 = r.u64(Int(at64) + 48), c64 <= UInt64(Self.maximumEntries),
        s64 <= UInt64(n), o64 <= UInt64(n)
      else { throw fail("damaged ZIP64 end of central directory") }
      count = Int(c64)
      directorySize = Int(s64)
      directoryOffset = Int(o64)
    }
    guard count <= Self.maximumEntries, r.has(directoryOffset, directorySize) else {
      throw fail("central directory lies outside the file")
    }
    var entries = [Entry]()
    entries.reserveCapacity(count)
    var index = [String: Int]()
    var q = directoryOffset
    let end = directoryOffset + directorySize
    for _ in 0..<count {
      guard q + 46 <= end, r.u32(q) == 0x0201_4b50, let flags = r.u16(q + 8),
        let method = r.u16(q + 10), let crc = r.u32(q + 16), let csize = r.u32(q + 20),
        let usize = r.u32(q + 24), let nameLength = r.u16(q + 28), let extraLength = r.u16(q + 30),
        let commentLength = r.u16(q + 32), let local = r.u32(q + 42)
      else { throw fail("damaged central directory entry") }
      let next = q + 46 + Int(nameLength) + Int(extraLength) + Int(commentLength)
      guard next <= end, let nameBytes = r.slice(q + 46, Int(nameLength)) else {
        throw fail("damaged central directory entry")
      }
      guard flags & 1 == 0 else { throw fail("encrypted entries are not supported") }
      let name = String(decoding: nameBytes, as: UTF8.self)
      var entry = Entry(
        name: name, method: method, crc32: crc, compressedSize: Int(csize), size: Int(usize),
        localHeaderOffset: Int(local))
      // ZIP64 extended information replaces the fields that are all ones, in this order.
      if usize == 0xFFFF_FFFF || csize == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
        var e = q + 46 + Int(nameLength)
        let extraEnd = e + Int(extraLength)
        var found = false
        while e + 4 <= extraEnd, let id = r.u16(e), let length = r.u16(e + 2) {
          let body = e + 4
          guard body + Int(length) <= extraEnd else { break }
          if id == 1 {
            var f = body
            func take() throws(ModelStoreError) -> Int {
              guard f + 8 <= body + Int(length), let v = r.u64(f), v <= UInt64(n) else {
                throw fail("damaged ZIP64 field of \(name)")
              }
              f += 8
              return Int(v)
            }
            if usize == 0xFFFF_FFFF { entry.size = try take() }
            if csize == 0xFFFF_FFFF { entry.compressedSize = try take() }
            if local == 0xFFFF_FFFF { entry.localHeaderOffset = try take() }
            found = true
            break
          }
          e = body + Int(length)
        }
        guard found else { throw fail("missing ZIP64 field of \(name)") }
      }
      guard index[name] == nil else { throw fail("the archive names \(name) twice") }
      index[name] = entries.count
      entries.append(entry)
      q = next
    }
    self.entries = entries
    self.index = index
  }

  /// The entry called `name`, if any.
  func entry(_ name: String) -> Entry? { index[name].map { entries[$0] } }

  /// The byte range of an entry's (possibly compressed) data, after its local header.
  func dataRange(_ entry: Entry) throws(ModelStoreError) -> Range<Int> {
    let r = ByteReader(bytes: file.bytes)
    let h = entry.localHeaderOffset
    guard r.u32(h) == 0x0403_4b50, let nameLength = r.u16(h + 26),
      let extraLength = r.u16(h + 28)
    else { throw fail("damaged local header of \(entry.name)") }
    let start = h + 30 + Int(nameLength) + Int(extraLength)
    guard r.has(start, entry.compressedSize) else {
      throw fail("data of \(entry.name) lies outside the file")
    }
    return start..<(start + entry.compressedSize)
  }

  /// Calls `body` with the uncompressed bytes of `entry`: a view into the mapped file for stored
  /// entries, a temporary buffer for deflated ones. The CRC-32 is checked first.
  func withContents<R>(
    _ entry: Entry, maximumSize: Int = Int.max,
    _ body: (UnsafeRawBufferPointer) throws(ModelStoreError) -> R
  ) throws(ModelStoreError) -> R {
    guard entry.size <= maximumSize else {
      throw fail("\(entry.name) is \(entry.size) bytes, more than the \(maximumSize) allowed")
    }
    let range = try dataRange(entry)
    let raw = UnsafeRawBufferPointer(rebasing: file.bytes[range])
    switch entry.method {
    case 0:
      guard entry.compressedSize == entry.size else {
        throw fail("stored entry \(entry.name) has two different sizes")
      }
      try checkCRC(raw, entry)
      return try body(raw)
    case 8:
      // Deflate expands at most about 1032 times; anything claiming more is a zip bomb.
      let (limit, overflow) = entry.compressedSize.multipliedReportingOverflow(by: 1032)
      guard overflow || entry.size <= limit + 1024 else {
        throw fail("\(entry.name) claims an impossible compression ratio")
      }
      var out = [UInt8](repeating: 0, count: entry.size)
      let inflated = out.withUnsafeMutableBytes { dst in
        Result { () throws(ModelStoreError) in try inflateRaw(raw, into: dst, name: entry.name) }
      }
      try inflated.get()
      let result = out.withUnsafeBytes { bytes in
        Result { () throws(ModelStoreError) -> R in
          try checkCRC(bytes, entry)
          return try body(bytes)
        }
      }
      return try result.get()
    default:
      throw fail(
        "\(entry.name) uses zip compression method \(entry.method) (only 0 and 8 are read)")
    }
  }

  /// The uncompressed bytes of `entry` as an array.
  func contents(_ entry: Entry, maximumSize: Int = Int.max) throws(ModelStoreError) -> [UInt8] {
    try withContents(entry, maximumSize: maximumSize) { Array($0) }
  }

  private func checkCRC(_ bytes: UnsafeRawBufferPointer, _ entry: Entry) throws(ModelStoreError) {
    guard Compression.crc32(bytes) == entry.crc32 else {
      throw fail("\(entry.name) is damaged (CRC-32 mismatch)")
    }
  }

  /// Inflates a raw deflate stream that must fill `dst` exactly.
  private func inflateRaw(
    _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer, name: String
  ) throws(ModelStoreError) {
    do {
      try Compression.inflateRaw(src, into: dst)
    } catch {
      throw fail("\(name) \(error.reason)")
    }
  }
}
