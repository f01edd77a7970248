// Memory for packed weight matrices: an anonymous mapping per matrix, 2 MiB-aligned when it is at
// least that large and marked for transparent huge pages (madvise MADV_HUGEPAGE; Linux's default
// THP mode, "madvise", gives huge pages only to regions that ask).
//
// Why: a Falcon-7B stage packs ~14 GB into fresh memory; with 4 KiB pages that is ~3.4 million
// page faults during the load (each a kernel entry, a zeroed page and a page-table update), which
// made loading slower than reading the checkpoint from the page cache. A 2 MiB page takes one
// fault for 512 small ones. Decoding then walks the weights through 512× fewer TLB entries.
// Where the kernel has no huge page to give (fragmented memory, THP off) the mapping falls back to
// small pages: correctness never depends on it. Callers write every byte they read.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum WeightMemory {
    /// The huge page size asked for, and the smallest mapping that asks.
    public static let hugePage = 2 << 20

    /// `bytes` (> 0) of memory aligned to at least 64 bytes (a cache line: with malloc's 16-byte
    /// alignment every other 32-byte load of a panel would straddle two lines); give it back with `free`.
    public static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        precondition(bytes > 0, "WeightMemory.allocate: \(bytes) bytes")
        guard bytes >= hugePage else {
            return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
        let size = mappedSize(bytes)
        // Map a huge page more than needed, then unmap the unaligned head and the rest of the tail.
        let span = size + hugePage
        guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
            fatalError("WeightMemory: mmap of \(span) bytes failed: \(String(cString: strerror(errno)))")
        }
        let start = Int(bitPattern: raw), aligned = (start + hugePage - 1) / hugePage * hugePage
        if aligned > start { munmap(raw, aligned - start) }
        let tail = start + span - (aligned + size)
        if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + size)!, tail) }
        let p = UnsafeMutableRawPointer(bitPattern: aligned)!
        #if os(Linux)
        _ = madvise(p, size, MADV_HUGEPAGE)   // advice only: EINVAL where THP is compiled out
        #endif
        return p
    }

    /// Returns memory from `allocate(bytes:)` (the same `bytes`).
    public static func free(_ p: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= hugePage { munmap(p, mappedSize(bytes)) } else { p.deallocate() }
    }

    private static func mappedSize(_ bytes: Int) -> Int { (bytes + hugePage - 1) / hugePage * hugePage }
}
