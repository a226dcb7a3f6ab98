// Embedded Swift cross build only (scripts/aarch64-tests.sh): the few names Swift's Glibc overlay
// would provide, over Embedded/CLibc. A native or SwiftPM build imports Glibc and skips this file.
#if !canImport(Glibc) && canImport(CLibc)
import CLibc

var errno: Int32 { ssast_errno() }
let MAP_FAILED = ssast_map_failed()
let S_IFMT = mode_t(CLibc.S_IFMT)
let S_IFDIR = mode_t(CLibc.S_IFDIR)
let S_IFREG = mode_t(CLibc.S_IFREG)
func open(_ path: UnsafePointer<CChar>, _ flags: Int32) -> Int32 { ssast_open(path, flags, 0) }
func open(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 { ssast_open(path, flags, UInt32(mode)) }
#endif
