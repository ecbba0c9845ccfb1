import Foundation

/// The memory this process can have: the machine's, or the address-space limit (`ulimit -v`,
/// RLIMIT_AS) where that is lower. Runs that would need more are refused before they allocate.
public enum UsableMemory {
    /// In bytes; 0 when neither is known.
    public static var bytes: Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let limit = addressSpaceLimit else { return max(0, physical) }
        return physical > 0 ? min(physical, limit) : limit
    }

    /// The address-space limit (`ulimit -v`) in bytes, when one is set.
    public static var addressSpaceLimit: Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
              limit.rlim_cur < rlim_t(Int.max) else { return nil }
        return Int(limit.rlim_cur)
    }

    /// True when the address-space limit is what bounds `bytes`.
    public static var limitedByAddressSpace: Bool {
        guard let limit = addressSpaceLimit else { return false }
        return limit <= bytes
    }
}
