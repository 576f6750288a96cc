/// The work one evaluation may still do, counted in items of the values it creates.
///
/// Every list, tuple, dict or string an operator or a function produces is charged its
/// *expanded* size: each item of each nested value, counted once per place it appears (a list
/// repeated 10⁶ times inside another counts 10⁶ times, as `str()`, `sorted()` or `==` of it would
/// visit it that often); a string counts one item per UTF-8 byte, and a dict adds a sixteenth of
/// the square of its length (its lookups compare keys one by one). Since an expression has no loops and every operation's
/// work is at most proportional to the size of its operands (times a logarithm for `sorted`),
/// this bounds the time of a whole evaluation, however the values are nested or repeated.
///
/// Numbers are free: only their count of operations, which the size of the source bounds,
/// costs time.
struct Budget {
  /// The items one evaluation may create (a few hundred milliseconds of work at most).
  static let limit = 4_000_000

  /// Values up to this size are cheap enough to be used freely as folded constants.
  static let lightWeight = 64

  /// The items still allowed.
  private(set) var remaining: Int

  /// A full budget.
  init(_ limit: Int = Budget.limit) { remaining = limit }

  /// The error for an evaluation that would exceed the budget.
  static func exceeded(_ column: Int) -> ExprError {
    ExprError(
      "expression too expensive: it would create more than \(Budget.limit) items (items of "
        + "nested lists count once per copy, string characters one each)",
      column: column)
  }

  /// Spends `items`; throws when the budget would be exceeded.
  @inline(__always) mutating func spend(_ items: Int, at column: Int) throws(ExprError) {
    if items > remaining { throw Budget.exceeded(column) }
    remaining -= items
  }

  /// Spends the expanded size of `value` (nothing for a number, a bool or None).
  @inline(__always) mutating func charge(_ value: ExprValue, at column: Int) throws(ExprError) {
    switch value {
    case .none, .bool, .int, .float: return
    default:
      let w = Budget.weight(value, limit: remaining)
      try spend(w, at: column)
    }
  }

  /// Whether `value` is a number, a bool or None (values that are never charged).
  @inline(__always) static func isScalar(_ value: ExprValue) -> Bool {
    switch value {
    case .none, .bool, .int, .float: return true
    default: return false
    }
  }

  /// The expanded size of `value`, or some number above `limit` once it is known to exceed it
  /// (so measuring never costs more than `limit` steps, whatever the sharing).
  static func weight(_ value: ExprValue, limit: Int) -> Int {
    var total = 0
    add(value, to: &total, limit: limit)
    return total
  }

  private static func add(_ value: ExprValue, to total: inout Int, limit: Int) {
    switch value {
    case .none, .bool, .int, .float: total += 1
    case .string(let s): total += 1 + s.utf8.count
    case .list(let items), .tuple(let items):
      total += 1
      for item in items {
        if total > limit { return }
        add(item, to: &total, limit: limit)
      }
    case .dict(let d):
      let (square, overflow) = d.count.multipliedReportingOverflow(by: d.count)
      total += 1
      if overflow || square / 16 > limit {
        total = limit &+ 1
        return
      }
      total += square / 16
      for (k, v) in zip(d.keys, d.values) {
        if total > limit { return }
        add(k, to: &total, limit: limit)
        add(v, to: &total, limit: limit)
      }
    }
  }
}
