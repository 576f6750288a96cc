#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The process's limit on open file descriptors, which bounds the studio's connections.
enum FileDescriptorLimit {
  /// Raises the soft limit to the hard one (a common soft limit of 1,024 would let that many
  /// idle connections stop the server) and returns the soft limit in force afterwards.
  static func raiseToHard() -> Int {
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0 else { return 1024 }
    // An unlimited hard limit is not a valid soft one everywhere (macOS wants at most OPEN_MAX).
    let target = min(limit.rlim_max, rlim_t(1 << 20))
    if limit.rlim_cur < target {
      var raised = limit
      raised.rlim_cur = target
      if setrlimit(resource, &raised) == 0 { limit = raised }
    }
    return Int(min(limit.rlim_cur, rlim_t(Int32.max)))
  }

  #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
  #else
    private static let resource = RLIMIT_NOFILE
  #endif
}
