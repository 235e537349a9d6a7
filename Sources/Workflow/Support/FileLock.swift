import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock on a file (flock). The kernel drops it when the process
/// dies, so a killed run never leaves a stale lock behind.
public final class FileLock: @unchecked Sendable {
    private let fd: Int32
    public let path: String

    /// Takes the lock, calling `waiting` once with the holder's pid if another process
    /// holds it, then blocking until it is free.
    public init(path: String, waiting: (String) -> Void) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Diagnostic("cannot open lock file '\(path)': \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                close(fd)
                throw Diagnostic("cannot lock '\(path)': \(String(cString: strerror(errno)))")
            }
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            waiting(holder.isEmpty ? "another process" : "pid \(holder)")
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { close(fd); throw Diagnostic("cannot lock '\(path)': \(String(cString: strerror(errno)))") }
            }
        }
        ftruncate(fd, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(fd, $0, strlen($0)) }
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// Takes the lock only if it is free at once; nil if another process (or another
    /// open of the file in this one) holds it. Used to tell a live job's folder from one
    /// left by a process that died (the kernel released its lock).
    public static func attempt(path: String) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { close(fd); return nil }
        return FileLock(fd: fd, path: path)
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
