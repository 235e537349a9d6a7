import Foundation

/// A value produced by `RestrictedUnpickler`. Containers are indices into the unpickler's
/// arena (`PickleArena`), not nested values: pickle mutates lists and dicts after creation
/// (EMPTY_DICT, BINPUT, …, SETITEMS) and the memo must see those mutations, and a hostile
/// file could otherwise build a chain deep enough that tearing it down overflows the stack.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes(Data)
    case tuple(Int)
    case list(Int)
    case dict(Int)
    /// An allow-listed global (module, name), not yet applied.
    case global(String, String)
    /// A storage named by a persistent id (BINPERSID).
    case storage(PickleStorageRef)
    /// A tensor view of a storage, from torch._utils._rebuild_tensor_v2.
    case tensor(PickleTensorRef)
    /// An instance of an inert allow-listed class (argparse.Namespace in training
    /// checkpoints): created empty by NEWOBJ, its state dropped by BUILD, never called.
    case opaque(String)

    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let m, let n): "global '\(m) \(n)'"
        case .storage: "storage"
        case .tensor: "tensor"
        case .opaque(let cls): "\(cls) object"
        }
    }
}

/// An insertion-ordered dict. String and int keys replace on re-assignment, as in Python;
/// other key kinds (rare in checkpoints) are kept in order without de-duplication.
struct PickleDict {
    enum Key: Hashable { case string(String), int(Int) }
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [Key: Int] = [:]

    mutating func set(_ key: PickleValue, _ value: PickleValue) {
        let k: Key?
        switch key {
        case .string(let s): k = .string(s)
        case .int(let i): k = .int(i)
        default: k = nil
        }
        if let k, let at = index[k] { entries[at].value = value; return }
        if let k { index[k] = entries.count }
        entries.append((key, value))
    }
}

/// Storage for the containers of one pickle.
struct PickleArena {
    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [PickleDict] = []

    mutating func tuple(_ items: [PickleValue]) -> PickleValue { tuples.append(items); return .tuple(tuples.count - 1) }
    mutating func list() -> PickleValue { lists.append([]); return .list(lists.count - 1) }
    mutating func dict() -> PickleValue { dicts.append(PickleDict()); return .dict(dicts.count - 1) }

    func items(ofTuple v: PickleValue) -> [PickleValue]? {
        if case .tuple(let i) = v { return tuples[i] }
        return nil
    }

    func ints(_ v: PickleValue) -> [Int]? {
        guard let items = items(ofTuple: v) else { return nil }
        var out: [Int] = []
        for item in items {
            guard case .int(let i) = item else { return nil }
            out.append(i)
        }
        return out
    }
}

/// Element type of a PyTorch storage, from its class name (torch.FloatStorage, …).
enum TorchStorageType: String, Sendable {
    case float = "FloatStorage", half = "HalfStorage", bfloat16 = "BFloat16Storage", double = "DoubleStorage"
    case long = "LongStorage", int = "IntStorage", short = "ShortStorage", char = "CharStorage"
    case byte = "ByteStorage", bool = "BoolStorage"

    var elementSize: Int {
        switch self {
        case .double, .long: 8
        case .float, .int: 4
        case .half, .bfloat16, .short: 2
        case .char, .byte, .bool: 1
        }
    }

    /// Floating-point storages convert to Float; integer ones are not weights.
    var isFloatingPoint: Bool {
        switch self {
        case .float, .half, .bfloat16, .double: true
        default: false
        }
    }
}

struct PickleStorageRef {
    var key: String
    var type: TorchStorageType
    /// Element count declared in the persistent id.
    var count: Int
}

struct PickleTensorRef {
    var storage: PickleStorageRef
    var offset: Int
    var shape: [Int]
    var stride: [Int]
}

/// A pickle reader that implements only the opcodes PyTorch state dicts use and builds
/// only allow-listed objects: it never calls anything, so a hostile file can at worst be
/// refused. Every refusal names the file, the opcode and its byte offset.
///
/// Bounds against hostile input: memo entries, stack depth, mark depth, string lengths
/// (checked against the bytes left before anything is allocated), and storage sizes
/// (checked against the real size of the file that must hold them).
struct RestrictedUnpickler {
    /// Memo entries. A state dict memoises each tensor, storage, key and tuple once: a
    /// few per tensor, so ~10⁴ for the largest backbones. 2²⁰ entries of a 40-byte value
    /// are ~40 MB, and the index range bounds LONG_BINPUT's otherwise 32-bit index.
    static let maxMemo = 1 << 20
    /// Values on the stack at once. A state dict pushes one SETITEMS batch (≤ 1000
    /// pairs, as pickle writes them) on top of a handful of containers; 2²⁰ values are
    /// ~40 MB and keep a file of NONE opcodes from growing the stack without bound.
    static let maxStack = 1 << 20
    /// Nested MARKs (open tuples and batches): a state dict nests 3–4.
    static let maxMarks = 4096

    /// Globals a weights file may name. Storage classes are only legal inside persistent
    /// ids; the rebuild functions and OrderedDict are the only callables (REDUCE).
    static let allowedGlobals: Set<String> = {
        var s: Set<String> = ["collections OrderedDict",
                              "torch._utils _rebuild_tensor_v2",
                              "torch._utils _rebuild_parameter",
                              "torch._utils _rebuild_parameter_with_state"]
        for t in ["Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"] {
            s.insert("torch \(t)Storage")
        }
        return s.union(inertClasses)
    }()

    /// Classes whose instances a weights file may hold as data next to the weights (DINO's
    /// full checkpoints store their command line as an argparse.Namespace). NEWOBJ makes an
    /// empty placeholder without running any code; BUILD drops the state.
    static let inertClasses: Set<String> = ["argparse Namespace"]

    let name: String
    /// The containers built so far; values returned by `load` index into it.
    private(set) var arena = PickleArena()
    let bytes: UnsafeRawBufferPointer
    /// Byte position of the next opcode (relative to `bytes`).
    private(set) var position: Int
    /// Added to positions in messages (where this pickle starts in the file).
    let baseOffset: Int
    /// Bytes of the whole file: every storage's data must fit in it.
    let fileSize: Int

    init(name: String, bytes: UnsafeRawBufferPointer, start: Int = 0, baseOffset: Int = 0, fileSize: Int? = nil) {
        self.name = name
        self.bytes = bytes
        self.position = start
        self.baseOffset = baseOffset
        self.fileSize = fileSize ?? bytes.count
    }

    private func fail(_ message: String, at offset: Int) -> WeightsError {
        WeightsError("\(name): \(message) (at byte \(baseOffset + offset))")
    }

    private mutating func take(_ n: Int, for opcode: String, at opPos: Int) throws -> Int {
        guard n >= 0, n <= bytes.count - position else {
            throw fail("truncated pickle: opcode \(opcode) needs \(n) more bytes, \(bytes.count - position) left", at: opPos)
        }
        let p = position
        position += n
        return p
    }

    private func u8(_ p: Int) -> Int { Int(bytes[p]) }
    private func le(_ p: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[p + i]) << (8 * UInt64(i)) }
        return v
    }

    /// Reads one pickle up to and including STOP and returns its value; `position`
    /// is then just past STOP (the legacy format has several pickles back to back).
    mutating func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]

        func pop(_ op: String, _ at: Int) throws -> PickleValue {
            guard let v = stack.popLast() else { throw fail("malformed pickle: \(op) on an empty stack", at: at) }
            return v
        }
        func popMark(_ op: String, _ at: Int) throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw fail("malformed pickle: \(op) without a MARK", at: at) }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func push(_ v: PickleValue, _ at: Int) throws {
            guard stack.count < Self.maxStack else { throw fail("refused: pickle stack deeper than \(Self.maxStack)", at: at) }
            stack.append(v)
        }
        func memoPut(_ i: Int, _ at: Int) throws {
            guard let top = stack.last else { throw fail("malformed pickle: memo put on an empty stack", at: at) }
            guard i >= 0, i < Self.maxMemo else { throw fail("refused: memo index \(i) out of range 0..<\(Self.maxMemo)", at: at) }
            guard memo[i] != nil || memo.count < Self.maxMemo else { throw fail("refused: memo holds more than \(Self.maxMemo) entries", at: at) }
            memo[i] = top
        }
        func memoGet(_ i: Int, _ at: Int) throws {
            guard let v = memo[i] else { throw fail("malformed pickle: memo index \(i) was never stored", at: at) }
            try push(v, at)
        }
        func string(_ p: Int, _ n: Int, _ op: String, _ at: Int) throws -> String {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[p..<(p + n)])
            guard let s = String(validating: raw, as: UTF8.self) else { throw fail("malformed pickle: \(op) is not valid UTF-8", at: at) }
            return s
        }

        while true {
            let at = position
            guard position < bytes.count else { throw fail("truncated pickle: ended before STOP", at: at) }
            let op = bytes[position]
            position += 1
            switch op {
            case 0x80: // PROTO
                let p = try take(1, for: "PROTO", at: at)
                guard u8(p) <= 5 else { throw fail("unsupported pickle protocol \(u8(p))", at: at) }
            case 0x95: // FRAME: a length prefix only; the opcodes follow inline
                _ = try take(8, for: "FRAME", at: at)
            case 0x2e: // STOP
                guard let v = stack.popLast() else { throw fail("malformed pickle: STOP on an empty stack", at: at) }
                return v
            case 0x28: // MARK
                guard marks.count < Self.maxMarks else { throw fail("refused: more than \(Self.maxMarks) nested MARKs", at: at) }
                marks.append(stack.count)
            case 0x7d: try push(arena.dict(), at)          // EMPTY_DICT
            case 0x5d: try push(arena.list(), at)          // EMPTY_LIST
            case 0x29: try push(arena.tuple([]), at)                   // EMPTY_TUPLE
            case 0x4e: try push(.none, at)                        // NONE
            case 0x88: try push(.bool(true), at)                  // NEWTRUE
            case 0x89: try push(.bool(false), at)                 // NEWFALSE
            case 0x4b: // BININT1
                let p = try take(1, for: "BININT1", at: at); try push(.int(u8(p)), at)
            case 0x4d: // BININT2
                let p = try take(2, for: "BININT2", at: at); try push(.int(Int(le(p, 2))), at)
            case 0x4a: // BININT (signed 32-bit)
                let p = try take(4, for: "BININT", at: at); try push(.int(Int(Int32(truncatingIfNeeded: le(p, 4)))), at)
            case 0x8a: // LONG1: n-byte little-endian two's complement
                let p = try take(1, for: "LONG1", at: at)
                let n = u8(p)
                let q = try take(n, for: "LONG1", at: at)
                if n == 0 { try push(.int(0), at); break }
                guard n <= 8 else {
                    // Only the legacy magic number (10 bytes) is this long; keep it as its bytes.
                    try push(.bytes(Data(bytes[q..<(q + n)])), at); break
                }
                var v = le(q, n)
                if n < 8, bytes[q + n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                try push(.int(Int(Int64(bitPattern: v))), at)
            case 0x47: // BINFLOAT: big-endian double
                let p = try take(8, for: "BINFLOAT", at: at)
                var v: UInt64 = 0
                for i in 0..<8 { v = (v << 8) | UInt64(bytes[p + i]) }
                try push(.float(Double(bitPattern: v)), at)
            case 0x58: // BINUNICODE
                let p = try take(4, for: "BINUNICODE", at: at)
                let n = Int(le(p, 4))
                let q = try take(n, for: "BINUNICODE", at: at)
                try push(.string(try string(q, n, "BINUNICODE", at)), at)
            case 0x8c: // SHORT_BINUNICODE
                let p = try take(1, for: "SHORT_BINUNICODE", at: at)
                let n = u8(p)
                let q = try take(n, for: "SHORT_BINUNICODE", at: at)
                try push(.string(try string(q, n, "SHORT_BINUNICODE", at)), at)
            case 0x8d: // BINUNICODE8
                let p = try take(8, for: "BINUNICODE8", at: at)
                let n64 = le(p, 8)
                guard n64 <= UInt64(bytes.count) else { throw fail("truncated pickle: BINUNICODE8 declares \(n64) bytes", at: at) }
                let q = try take(Int(n64), for: "BINUNICODE8", at: at)
                try push(.string(try string(q, Int(n64), "BINUNICODE8", at)), at)
            case 0x43, 0x42: // SHORT_BINBYTES, BINBYTES
                let wide = op == 0x42
                let p = try take(wide ? 4 : 1, for: wide ? "BINBYTES" : "SHORT_BINBYTES", at: at)
                let n = wide ? Int(le(p, 4)) : u8(p)
                let q = try take(n, for: wide ? "BINBYTES" : "SHORT_BINBYTES", at: at)
                try push(.bytes(Data(bytes[q..<(q + n)])), at)
            case 0x71: // BINPUT
                let p = try take(1, for: "BINPUT", at: at); try memoPut(u8(p), at)
            case 0x72: // LONG_BINPUT
                let p = try take(4, for: "LONG_BINPUT", at: at); try memoPut(Int(le(p, 4)), at)
            case 0x94: // MEMOIZE
                try memoPut(memo.count, at)
            case 0x68: // BINGET
                let p = try take(1, for: "BINGET", at: at); try memoGet(u8(p), at)
            case 0x6a: // LONG_BINGET
                let p = try take(4, for: "LONG_BINGET", at: at); try memoGet(Int(le(p, 4)), at)
            case 0x63: // GLOBAL "module\nname\n"
                var lines: [String] = []
                for _ in 0..<2 {
                    let start = position
                    var end = start
                    while end < bytes.count, end - start < 256, bytes[end] != 0x0a { end += 1 }
                    guard end < bytes.count, bytes[end] == 0x0a else { throw fail("truncated pickle: GLOBAL name is not terminated", at: at) }
                    lines.append(try string(start, end - start, "GLOBAL", at))
                    position = end + 1
                }
                try push(try global(lines[0], lines[1], "GLOBAL", at), at)
            case 0x93: // STACK_GLOBAL
                let n = try pop("STACK_GLOBAL", at), m = try pop("STACK_GLOBAL", at)
                guard case .string(let module) = m, case .string(let qual) = n else {
                    throw fail("malformed pickle: STACK_GLOBAL needs two strings", at: at)
                }
                try push(try global(module, qual, "STACK_GLOBAL", at), at)
            case 0x74: // TUPLE
                let items = try popMark("TUPLE", at); try push(arena.tuple(items), at)
            case 0x85: // TUPLE1
                let a = try pop("TUPLE1", at); try push(arena.tuple([a]), at)
            case 0x86: // TUPLE2
                let b = try pop("TUPLE2", at), a = try pop("TUPLE2", at); try push(arena.tuple([a, b]), at)
            case 0x87: // TUPLE3
                let c = try pop("TUPLE3", at), b = try pop("TUPLE3", at), a = try pop("TUPLE3", at)
                try push(arena.tuple([a, b, c]), at)
            case 0x73: // SETITEM
                let v = try pop("SETITEM", at), k = try pop("SETITEM", at)
                guard case .dict(let d)? = stack.last else { throw fail("malformed pickle: SETITEM target is not a dict", at: at) }
                arena.dicts[d].set(k, v)
            case 0x75: // SETITEMS
                let items = try popMark("SETITEMS", at)
                guard items.count % 2 == 0, case .dict(let d)? = stack.last else {
                    throw fail("malformed pickle: SETITEMS needs a dict and key/value pairs", at: at)
                }
                for i in stride(from: 0, to: items.count, by: 2) { arena.dicts[d].set(items[i], items[i + 1]) }
            case 0x61: // APPEND
                let v = try pop("APPEND", at)
                guard case .list(let l)? = stack.last else { throw fail("malformed pickle: APPEND target is not a list", at: at) }
                arena.lists[l].append(v)
            case 0x65: // APPENDS
                let items = try popMark("APPENDS", at)
                guard case .list(let l)? = stack.last else { throw fail("malformed pickle: APPENDS target is not a list", at: at) }
                arena.lists[l].append(contentsOf: items)
            case 0x62: // BUILD: an OrderedDict's own state (torch's `_metadata`) or an inert object's; ignored
                _ = try pop("BUILD", at)
                switch stack.last {
                case .dict?, .opaque?: break
                default: throw fail("refused: BUILD on \(stack.last?.kindName ?? "nothing"); only dict or inert object state is allowed in a weights file", at: at)
                }
            case 0x81: // NEWOBJ: only for inert allow-listed classes
                _ = try pop("NEWOBJ", at)
                let cls = try pop("NEWOBJ", at)
                guard case .global(let module, let name) = cls, Self.inertClasses.contains("\(module) \(name)") else {
                    throw fail("refused: NEWOBJ on \(cls.kindName); only inert data classes may be instantiated", at: at)
                }
                try push(.opaque("\(module).\(name)"), at)
            case 0x52: // REDUCE
                let args = try pop("REDUCE", at), callable = try pop("REDUCE", at)
                try push(try reduce(callable, args, at), at)
            case 0x51: // BINPERSID
                let pid = try pop("BINPERSID", at)
                try push(try storage(pid, at), at)
            default:
                throw fail("refused: pickle opcode 0x\(String(op, radix: 16)) (\(Self.opcodeName(op))) is not allowed in a weights file", at: at)
            }
        }
    }

    private func global(_ module: String, _ name: String, _ op: String, _ at: Int) throws -> PickleValue {
        guard Self.allowedGlobals.contains("\(module) \(name)") else {
            throw fail("refused: global '\(module) \(name)' is not allowed in a weights file (opcode \(op))", at: at)
        }
        return .global(module, name)
    }

    /// Applies one of the allow-listed callables to its argument tuple.
    /// A persistent id names a storage: ('storage', torch.<T>Storage, key, location, numel)
    /// and, in the legacy format, a sixth element (view metadata) that must be None.
    private func storage(_ pid: PickleValue, _ at: Int) throws -> PickleValue {
        guard let t = arena.items(ofTuple: pid), t.count == 5 || t.count == 6,
              case .string("storage") = t[0], case .global(let module, let cls) = t[1],
              case .string(let key) = t[2], case .int(let count) = t[4] else {
            throw fail("malformed pickle: persistent id is not ('storage', type, key, location, numel)", at: at)
        }
        guard module == "torch", let type = TorchStorageType(rawValue: cls) else {
            throw fail("refused: persistent id names '\(module) \(cls)', not a torch storage type", at: at)
        }
        if t.count == 6, case .none = t[5] {} else if t.count == 6 {
            throw fail("refused: storage '\(key)' is a view of another storage (pre-1.0 format)", at: at)
        }
        guard count >= 0 else { throw fail("malformed pickle: storage '\(key)' declares \(count) elements", at: at) }
        // A storage's bytes are in the same file: a count that cannot fit is refused here,
        // before any tensor is sized from it.
        guard count <= fileSize / type.elementSize else {
            throw fail("refused: storage '\(key)' declares \(count) elements of \(type.elementSize) bytes, more than the file's \(fileSize) bytes", at: at)
        }
        return .storage(PickleStorageRef(key: key, type: type, count: count))
    }

    private mutating func reduce(_ callable: PickleValue, _ args: PickleValue, _ at: Int) throws -> PickleValue {
        guard case .global(let module, let fn) = callable else {
            throw fail("refused: REDUCE on \(callable.kindName); only allow-listed callables may be applied", at: at)
        }
        guard let a = arena.items(ofTuple: args) else { throw fail("malformed pickle: REDUCE arguments are not a tuple", at: at) }
        switch (module, fn) {
        case ("collections", "OrderedDict"):
            guard a.isEmpty else { throw fail("refused: OrderedDict with constructor arguments", at: at) }
            return arena.dict()
        case ("torch._utils", "_rebuild_tensor_v2"):
            guard a.count >= 4, case .storage(let s) = a[0], case .int(let offset) = a[1],
                  let shape = arena.ints(a[2]), let stride = arena.ints(a[3]), shape.count == stride.count else {
                throw fail("malformed pickle: _rebuild_tensor_v2 expects (storage, offset, size, stride, …)", at: at)
            }
            return .tensor(PickleTensorRef(storage: s, offset: offset, shape: shape, stride: stride))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let first = a.first, case .tensor = first else {
                throw fail("malformed pickle: \(fn) expects a tensor first", at: at)
            }
            return first
        default:
            throw fail("refused: REDUCE on global '\(module) \(fn)', which is not a callable allowed in a weights file", at: at)
        }
    }

    static func opcodeName(_ op: UInt8) -> String {
        let names: [UInt8: String] = [
            0x63: "GLOBAL", 0x69: "INST", 0x6f: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x50: "PERSID",
            0x49: "INT", 0x4c: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
            0x56: "UNICODE", 0x8b: "LONG4", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
            0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x64: "DICT", 0x6c: "LIST",
            0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x67: "GET", 0x70: "PUT", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
        ]
        return names[op] ?? "unknown"
    }
}
