import Runtime

/// The callables and classes a checkpoint pickle may name: the same idea as
/// `torch.load(weights_only=True)`. Any other global is refused before anything is built.
enum TorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2, rebuildTensorV3, rebuildParameter, rebuildParameterWithState, rebuildFromTypeV2
    case storageClass(StorageDType)
    case untypedStorage
    case dtype(StorageDType)
    case torchSize
    case builtinSet, builtinFrozenset
    case tensorClass, parameterClass

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): self = .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"): self = .rebuildFromTypeV2
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"): self = .untypedStorage
        case ("torch", "Size"): self = .torchSize
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"): self = .tensorClass
        case ("torch.nn.parameter", "Parameter"), ("torch.nn", "Parameter"): self = .parameterClass
        case ("builtins", "set"), ("__builtin__", "set"): self = .builtinSet
        case ("builtins", "frozenset"), ("__builtin__", "frozenset"): self = .builtinFrozenset
        case ("torch", _):
            if let d = StorageDType(storageClass: name) { self = .storageClass(d) }
            else if let d = StorageDType(torchDType: name) { self = .dtype(d) }
            else { return nil }
        default: return nil
        }
    }
}

/// A pickle value. Containers live in the unpickler's arenas and are referred to by index, so a
/// value never owns a deep tree: no recursive destruction, and cycles built by hostile pickles are
/// harmless.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int), list(Int), set(Int)   // index into `seqs`
    case dict(Int)                          // index into `dicts`
    case global(TorchGlobal)
    case storage(Int)                       // index into `storages`
    case tensor(Int)                        // index into `tensors`
}

/// A storage referenced by a persistent id: raw bytes `<top>/data/<key>` in the zip.
struct StorageRecord {
    let key: String
    let dtype: StorageDType   // uint8 for UntypedStorage (then the tensor carries its own dtype)
    let byteCount: Int
    let dataOffset: Int       // absolute offset in the source
}

/// A tensor view on a storage: element offset, sizes and strides counted in elements.
struct TensorRecord {
    let storage: Int
    let dtype: StorageDType
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

/// An interpreter for the subset of the pickle protocol (2..5) that `torch.save` writes. It never
/// executes anything: globals are matched against an allowlist and calls are interpreted.
final class TorchUnpickler {
    // Courtesy limits: the input is finite and every opcode consumes at least one byte, so work
    // and memory are already linear in the input; these keep hostile files from using much of either.
    static let maxStack = 1 << 20
    static let maxMemo = 1 << 22
    static let maxContainers = 1 << 22
    static let maxNameBytes = 1024      // module/name of a global, storage keys
    static let maxDims = 64

    private let code: UnsafeRawBufferPointer
    private let what: String                // "<file>: data.pkl" for messages
    private let zip: ZipArchive?
    private var pos = 0

    private(set) var seqs: [[PickleValue]] = []
    private(set) var dicts: [[(PickleValue, PickleValue)]] = []
    private(set) var storages: [StorageRecord] = []
    private(set) var tensors: [TensorRecord] = []
    private var storageByKey: [String: Int] = [:]
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(code: UnsafeRawBufferPointer, what: String, zip: ZipArchive?) {
        self.code = code; self.what = what; self.zip = zip
    }

    private func fail(_ m: String) -> SSASTError { SSASTError("\(what): \(m)") }

    // MARK: reading the opcode stream

    private func take(_ n: Int, _ op: String) throws -> Int {
        guard n >= 0, n <= code.count - pos else {
            throw fail("truncated pickle: \(op) at offset \(pos) needs \(n) more bytes, \(code.count - pos) left")
        }
        let p = pos; pos += n; return p
    }
    private func u8(_ op: String) throws -> Int { Int(code[try take(1, op)]) }
    private func u16(_ op: String) throws -> Int { Int(code.le(UInt16.self, at: try take(2, op))) }
    private func u32(_ op: String) throws -> Int { Int(code.le(UInt32.self, at: try take(4, op))) }
    private func len64(_ op: String) throws -> Int {
        let v = code.le(UInt64.self, at: try take(8, op))
        guard v <= UInt64(code.count) else { throw fail("\(op) length \(v) exceeds the pickle size") }
        return Int(v)
    }
    private func utf8(_ n: Int, _ op: String) throws -> String {
        let p = try take(n, op)
        return String(decoding: UnsafeRawBufferPointer(rebasing: code[p..<(p + n)]), as: UTF8.self)
    }
    private func byteArray(_ n: Int, _ op: String) throws -> [UInt8] {
        let p = try take(n, op)
        return Array(UnsafeRawBufferPointer(rebasing: code[p..<(p + n)]))
    }
    private func line(_ op: String) throws -> String {
        var n = 0
        while true {
            guard pos + n < code.count else { throw fail("truncated pickle: \(op) line not terminated") }
            if code[pos + n] == 0x0A { break }
            n += 1
            guard n <= Self.maxNameBytes else { throw fail("\(op) line longer than \(Self.maxNameBytes) bytes") }
        }
        let s = try utf8(n, op)
        pos += 1
        return s
    }

    // MARK: stack

    private func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw fail("pickle stack deeper than \(Self.maxStack)") }
        stack.append(v)
    }
    private func pop(_ op: String) throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("\(op) at offset \(pos) on an empty stack") }
        if let m = marks.last, stack.count < m { throw fail("\(op) at offset \(pos) pops past a MARK") }
        return v
    }
    private func popMark(_ op: String) throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw fail("\(op) at offset \(pos) without a MARK") }
        guard m <= stack.count else { throw fail("corrupt MARK at offset \(pos)") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }
    private func newSeq(_ items: [PickleValue]) throws -> Int {
        guard seqs.count < Self.maxContainers else { throw fail("more than \(Self.maxContainers) containers") }
        seqs.append(items); return seqs.count - 1
    }
    private func newDict() throws -> Int {
        guard dicts.count < Self.maxContainers else { throw fail("more than \(Self.maxContainers) containers") }
        dicts.append([]); return dicts.count - 1
    }
    private func put(_ key: Int, _ op: String) throws {
        guard let top = stack.last else { throw fail("\(op) at offset \(pos) on an empty stack") }
        if memo[key] == nil, memo.count >= Self.maxMemo { throw fail("pickle memo larger than \(Self.maxMemo)") }
        memo[key] = top
    }
    private func get(_ key: Int, _ op: String) throws {
        guard let v = memo[key] else { throw fail("\(op) at offset \(pos) refers to memo entry \(key), which was never stored") }
        try push(v)
    }

    // MARK: the interpreter

    func run() throws -> PickleValue {
        while true {
            let at = pos
            let op = try u8("opcode")
            switch op {
            case 0x80: // PROTO
                let v = try u8("PROTO")
                guard v >= 2 && v <= 5 else { throw fail("pickle protocol \(v) is not supported (torch.save writes 2)") }
            case 0x95: _ = try take(8, "FRAME")  // framing is only a hint for buffered readers
            case 0x2E: // STOP
                let v = try pop("STOP")
                return v
            case 0x28: // MARK
                guard marks.count < Self.maxStack else { throw fail("too many MARKs") }
                marks.append(stack.count)
            case 0x30: _ = try pop("POP")
            case 0x31: _ = try popMark("POP_MARK")
            case 0x32: // DUP
                guard let v = stack.last else { throw fail("DUP at offset \(at) on an empty stack") }
                try push(v)

            // constants and scalars
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(Int64(Int32(bitPattern: UInt32(try u32("BININT"))))))
            case 0x4B: try push(.int(Int64(try u8("BININT1"))))
            case 0x4D: try push(.int(Int64(try u16("BININT2"))))
            case 0x8A, 0x8B: // LONG1, LONG4: little-endian two's complement
                let n = op == 0x8A ? try u8("LONG1") : try u32("LONG4")
                guard n <= 8 else { throw fail("integer of \(n) bytes at offset \(at) is wider than 64 bits") }
                let p = try take(n, "LONG")
                var v: UInt64 = 0
                for i in 0..<n { v |= UInt64(code[p + i]) << (8 * UInt64(i)) }
                if n > 0 && n < 8 && code[p + n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                try push(.int(Int64(bitPattern: v)))
            case 0x47: // BINFLOAT, big-endian
                let p = try take(8, "BINFLOAT")
                try push(.float(Double(bitPattern: UInt64(bigEndian: code.loadUnaligned(fromByteOffset: p, as: UInt64.self)))))
            case 0x58: try push(.string(try utf8(try u32("BINUNICODE"), "BINUNICODE")))
            case 0x8C: try push(.string(try utf8(try u8("SHORT_BINUNICODE"), "SHORT_BINUNICODE")))
            case 0x8D: try push(.string(try utf8(try len64("BINUNICODE8"), "BINUNICODE8")))
            // Python 2 str: torch.load decodes them as UTF-8 too.
            case 0x55: try push(.string(try utf8(try u8("SHORT_BINSTRING"), "SHORT_BINSTRING")))
            case 0x54:
                let n = Int32(bitPattern: UInt32(try u32("BINSTRING")))
                guard n >= 0 else { throw fail("negative BINSTRING length at offset \(at)") }
                try push(.string(try utf8(Int(n), "BINSTRING")))
            case 0x43: try push(.bytes(try byteArray(try u8("SHORT_BINBYTES"), "SHORT_BINBYTES")))
            case 0x42: try push(.bytes(try byteArray(try u32("BINBYTES"), "BINBYTES")))
            case 0x8E: try push(.bytes(try byteArray(try len64("BINBYTES8"), "BINBYTES8")))
            case 0x96: try push(.bytes(try byteArray(try len64("BYTEARRAY8"), "BYTEARRAY8")))

            // containers
            case 0x29: try push(.tuple(try newSeq([])))
            case 0x5D: try push(.list(try newSeq([])))
            case 0x7D: try push(.dict(try newDict()))
            case 0x8F: try push(.set(try newSeq([])))
            case 0x74: try push(.tuple(try newSeq(try popMark("TUPLE"))))
            case 0x85:
                let a = try pop("TUPLE1")
                try push(.tuple(try newSeq([a])))
            case 0x86:
                let b = try pop("TUPLE2"), a = try pop("TUPLE2")
                try push(.tuple(try newSeq([a, b])))
            case 0x87:
                let c = try pop("TUPLE3"), b = try pop("TUPLE3"), a = try pop("TUPLE3")
                try push(.tuple(try newSeq([a, b, c])))
            case 0x91: try push(.set(try newSeq(try popMark("FROZENSET"))))
            case 0x61: // APPEND
                let v = try pop("APPEND")
                try appendItems([v], "APPEND")
            case 0x65: try appendItems(try popMark("APPENDS"), "APPENDS")
            case 0x90: try appendItems(try popMark("ADDITEMS"), "ADDITEMS")
            case 0x73: // SETITEM
                let v = try pop("SETITEM"), k = try pop("SETITEM")
                try setItems([k, v], "SETITEM")
            case 0x75: try setItems(try popMark("SETITEMS"), "SETITEMS")

            // memo
            case 0x71: try put(try u8("BINPUT"), "BINPUT")
            case 0x72: try put(try u32("LONG_BINPUT"), "LONG_BINPUT")
            case 0x94: try put(memo.count, "MEMOIZE")
            case 0x68: try get(try u8("BINGET"), "BINGET")
            case 0x6A: try get(try u32("LONG_BINGET"), "LONG_BINGET")

            // globals and calls
            case 0x63: // GLOBAL
                let module = try line("GLOBAL"), name = try line("GLOBAL")
                try push(.global(try allow(module, name)))
            case 0x93: // STACK_GLOBAL
                let n = try pop("STACK_GLOBAL"), m = try pop("STACK_GLOBAL")
                guard case .string(let module) = m, case .string(let name) = n,
                      module.utf8.count <= Self.maxNameBytes, name.utf8.count <= Self.maxNameBytes else {
                    throw fail("STACK_GLOBAL at offset \(at) without a module and name string")
                }
                try push(.global(try allow(module, name)))
            case 0x52: // REDUCE
                let args = try pop("REDUCE"), f = try pop("REDUCE")
                try push(try call(f, args, at))
            case 0x81: // NEWOBJ: cls.__new__(cls, *args), same as calling for the allowed classes
                let args = try pop("NEWOBJ"), f = try pop("NEWOBJ")
                try push(try call(f, args, at))
            case 0x62: // BUILD: state for an object (OrderedDict._metadata, tensor attributes); not needed
                _ = try pop("BUILD")
                guard !stack.isEmpty else { throw fail("BUILD at offset \(at) without an object") }
            case 0x51: // BINPERSID
                let pid = try pop("BINPERSID")
                try push(try persistentLoad(pid, at))

            default:
                throw fail("unsupported pickle opcode 0x\(String(op, radix: 16)) at offset \(at)")
            }
        }
    }

    private func allow(_ module: String, _ name: String) throws -> TorchGlobal {
        if let g = TorchGlobal(module: module, name: name) { return g }
        throw fail("refusing to load global '\(module).\(name)': only tensors, storages and plain containers are allowed (like torch.load(weights_only=True)); this file may run code in Python")
    }

    private func appendItems(_ items: [PickleValue], _ op: String) throws {
        guard let target = stack.last else { throw fail("\(op) at offset \(pos) without a list") }
        switch target {
        case .list(let i), .set(let i): seqs[i].append(contentsOf: items)
        default: throw fail("\(op) at offset \(pos) on something that is not a list or set")
        }
    }

    private func setItems(_ items: [PickleValue], _ op: String) throws {
        guard items.count % 2 == 0 else { throw fail("\(op) at offset \(pos) with an odd number of items") }
        guard let target = stack.last, case .dict(let d) = target else {
            throw fail("\(op) at offset \(pos) on something that is not a dict")
        }
        // Pairs are kept in order without hashing (hashing hostile keys could be made slow);
        // duplicates are resolved, Python-style, by whoever reads the dict.
        var i = 0
        while i < items.count { dicts[d].append((items[i], items[i + 1])); i += 2 }
    }

    // MARK: interpreted calls

    private func seq(_ v: PickleValue) -> [PickleValue]? {
        switch v {
        case .tuple(let i), .list(let i): return seqs[i]
        default: return nil
        }
    }

    private func call(_ f: PickleValue, _ argsValue: PickleValue, _ at: Int) throws -> PickleValue {
        guard case .global(let g) = f else { throw fail("REDUCE at offset \(at) calls something that is not an allowed global") }
        guard case .tuple(let ai) = argsValue else { throw fail("REDUCE at offset \(at) without an argument tuple") }
        let args = seqs[ai]
        switch g {
        case .orderedDict:
            // protocol 2 writes OrderedDict() and fills it with SETITEMS.
            guard args.isEmpty else { throw fail("OrderedDict called with arguments at offset \(at)") }
            return .dict(try newDict())
        case .rebuildTensorV2:
            guard args.count >= 4 && args.count <= 7 else { throw fail("_rebuild_tensor_v2 with \(args.count) arguments at offset \(at)") }
            return try rebuildTensor(args[0], args[1], args[2], args[3], dtype: nil, at)
        case .rebuildTensorV3:
            guard args.count >= 7 && args.count <= 8, case .global(.dtype(let dt)) = args[6] else {
                throw fail("_rebuild_tensor_v3 without a dtype at offset \(at)")
            }
            return try rebuildTensor(args[0], args[1], args[2], args[3], dtype: dt, at)
        case .rebuildParameter, .rebuildParameterWithState:
            guard args.count >= 1, case .tensor = args[0] else { throw fail("_rebuild_parameter without a tensor at offset \(at)") }
            return args[0]
        case .rebuildFromTypeV2:
            // (func, new_type, args, state): a Tensor/Parameter subclass wrapper around a rebuild call.
            guard args.count == 4, case .global(let inner) = args[0], inner != .rebuildFromTypeV2,
                  case .global(let cls) = args[1], cls == .tensorClass || cls == .parameterClass else {
                throw fail("unsupported _rebuild_from_type_v2 call at offset \(at)")
            }
            return try call(args[0], args[2], at)
        case .torchSize:
            guard args.count == 1, case .tuple = args[0] else { throw fail("torch.Size without a tuple at offset \(at)") }
            return args[0]
        case .builtinSet, .builtinFrozenset:
            // Sets are never inspected; alias the argument's items instead of copying them.
            if args.isEmpty { return .set(try newSeq([])) }
            guard args.count == 1 else { throw fail("set() with \(args.count) arguments at offset \(at)") }
            switch args[0] {
            case .list(let i), .tuple(let i), .set(let i): return .set(i)
            default: throw fail("set() of a non-sequence at offset \(at)")
            }
        case .storageClass, .untypedStorage, .dtype, .tensorClass, .parameterClass:
            throw fail("cannot call \(g) at offset \(at)")
        }
    }

    private func nonNegative(_ v: PickleValue, _ what: String, _ at: Int) throws -> Int {
        guard case .int(let x) = v, x >= 0, x <= Int64(Int.max) else {
            throw fail("tensor \(what) at offset \(at) is not a non-negative integer")
        }
        return Int(x)
    }

    private func rebuildTensor(_ st: PickleValue, _ off: PickleValue, _ size: PickleValue, _ stride: PickleValue,
                               dtype: StorageDType?, _ at: Int) throws -> PickleValue {
        guard case .storage(let si) = st else { throw fail("tensor at offset \(at) without a storage") }
        let s = storages[si]
        let dt = dtype ?? s.dtype
        guard let sizeItems = seq(size), let strideItems = seq(stride) else {
            throw fail("tensor at offset \(at) without size/stride tuples")
        }
        guard sizeItems.count == strideItems.count, sizeItems.count <= Self.maxDims else {
            throw fail("tensor at offset \(at) has \(sizeItems.count) sizes and \(strideItems.count) strides")
        }
        let offset = try nonNegative(off, "storage offset", at)
        var shape: [Int] = [], strides: [Int] = []
        for v in sizeItems { shape.append(try nonNegative(v, "size", at)) }
        for v in strideItems { strides.append(try nonNegative(v, "stride", at)) }
        let overflow = fail("tensor at offset \(at) has sizes/strides that overflow")
        var numel = 1
        var last = offset   // index of the last element
        for d in 0..<shape.count {
            numel = try checkedMul(numel, shape[d], overflow)
            if shape[d] > 0 { last = try checkedAdd(last, try checkedMul(shape[d] - 1, strides[d], overflow), overflow) }
        }
        let available = s.byteCount / dt.itemSize
        if numel > 0 {
            guard last < available else {
                throw fail("tensor at offset \(at) reaches element \(last) of storage '\(s.key)', which holds \(available) \(dt) elements")
            }
            // Overlapping (e.g. stride-0) views could expand a small storage into a huge copy.
            guard numel <= max(available, 1 << 24) else {
                throw fail("tensor at offset \(at) has \(numel) elements on a storage of \(available); refusing the expansion")
            }
        }
        tensors.append(TensorRecord(storage: si, dtype: dt, offset: offset, shape: shape, strides: strides))
        return .tensor(tensors.count - 1)
    }

    /// `('storage', storage_type, key, location, numel)`, as torch.save's persistent_id writes it.
    private func persistentLoad(_ pid: PickleValue, _ at: Int) throws -> PickleValue {
        guard let zip = zip else { throw fail("persistent id at offset \(at) in a pickle without storages") }
        guard case .tuple(let ti) = pid, seqs[ti].count == 5, case .string("storage") = seqs[ti][0] else {
            throw fail("unsupported persistent id at offset \(at) (expected ('storage', type, key, location, numel))")
        }
        let t = seqs[ti]
        let dtype: StorageDType
        switch t[1] {
        case .global(.storageClass(let d)): dtype = d
        case .global(.untypedStorage): dtype = .uint8
        default: throw fail("persistent id at offset \(at) names no storage class")
        }
        let key: String
        switch t[2] {
        case .string(let k) where k.utf8.count <= Self.maxNameBytes: key = k
        case .int(let k): key = String(k)
        default: throw fail("persistent id at offset \(at) has no storage key")
        }
        guard case .int(let n) = t[4], n >= 0, n <= Int64(Int.max) else {
            throw fail("storage '\(key)' at offset \(at) has a bad element count")
        }
        if let existing = storageByKey[key] {
            let s = storages[existing]
            if s.dtype == dtype { return .storage(existing) }
        }
        let bytes = try checkedMul(Int(n), dtype.itemSize, fail("storage '\(key)' size overflows"))
        guard let entry = zip.entry("data/" + key) else {
            throw fail("storage '\(key)' is missing: no entry '\(zip.top)/data/\(key)' in the archive")
        }
        guard entry.size >= bytes else {
            throw fail("storage '\(key)' needs \(bytes) bytes (\(n) x \(dtype)) but '\(entry.name)' has \(entry.size)")
        }
        storages.append(StorageRecord(key: key, dtype: dtype, byteCount: bytes, dataOffset: entry.dataOffset))
        if storageByKey[key] == nil { storageByKey[key] = storages.count - 1 }
        return .storage(storages.count - 1)
    }
}
