/// A pickle virtual machine for what `torch.save` writes (protocols 0–5), building an object
/// graph rather than Python objects.
///
/// Values live in one arena (`nodes`) and refer to each other by index, so a hostile pickle
/// can build cycles or deep nesting without recursion or leaks. Classes the reader knows are
/// interpreted: `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` (tensor records),
/// `_rebuild_parameter`, `torch._tensor._rebuild_from_type_v2`, `collections.OrderedDict`, and
/// persistent ids `('storage', torch.XStorage, key, location, numel)`. Every other class,
/// whether called (REDUCE), instantiated (NEWOBJ, OBJ, INST) or built (BUILD), yields an opaque
/// node, so optimizer states, callbacks, hyper-parameters and the like are skipped.
///
/// Only the globals a PyTorch checkpoint has a use for may be named (`allowedGlobals`): a
/// GLOBAL, STACK_GLOBAL or INST naming any other (`os.system`, `builtins.eval`,
/// `subprocess.Popen`, …) throws `pickleForbiddenGlobal` at once, wherever it sits in the pickle,
/// so such a file is never loaded, converted or passed on, even though this reader runs nothing.
///
/// Every length is checked against the bytes left before anything is allocated, so a
/// truncated or malicious pickle throws a `WeightsError`; it cannot crash or exhaust memory.
/// Opcodes that copy an existing container instead of consuming the stack (a memoised list
/// given to `OrderedDict` again and again, a memoised size tuple given to every tensor) share
/// one budget proportional to the pickle's length, so a small pickle cannot build a huge graph.
public struct Pickle: Sendable {
    /// The container members the interpreted calls may copy in all, for a pickle of `bytes`
    /// bytes: a few per byte, which no pickle torch writes comes near (each of its size tuples
    /// and dict pairs is written out, at least a byte per member).
    static func maximumCopiedMembers(forBytes bytes: Int) -> Int { 4 * bytes + 65_536 }

    /// One value of the graph. Containers hold node indices.
    public enum Node: Sendable, Equatable {
        case none
        case bool(Bool)
        case int(Int)
        /// An integer wider than 64 bits; its value is never needed.
        case bigInt
        case float(Double)
        case string(String)
        /// A bytes or bytearray object; only its length is kept.
        case bytes(count: Int)
        case tuple([Int])
        /// Index into `lists`.
        case list(Int)
        /// Index into `dicts`.
        case dict(Int)
        /// Index into `lists` (the members).
        case set(Int)
        case global(module: String, name: String)
        /// Index into `storages`.
        case storage(Int)
        /// Index into `tensors`.
        case tensor(Int)
        /// An instance of a class this reader does not interpret, named `module.name`.
        case opaque(String)
    }

    /// A persistent id `('storage', storage_type, key, location, numel)`.
    public struct Storage: Sendable, Equatable {
        /// `module.name` of the storage class, e.g. `torch.FloatStorage`.
        public var typeName: String
        /// The archive entry is `<archive>/data/<key>`.
        public var key: String
        /// The device it was saved from (`cpu`, `cuda:0`, …).
        public var location: String
        /// `numel` as saved, or -1 when it is not an integer.
        public var elementCount: Int
    }

    /// The arguments of `_rebuild_tensor_v2(storage, storage_offset, size, stride, …)`.
    public struct Tensor: Sendable, Equatable {
        /// Index into `storages`.
        public var storage: Int
        public var storageOffset: Int
        public var shape: [Int]
        public var strides: [Int]
    }

    /// A dict's entries as parallel arrays of node indices, in insertion order.
    public struct Dict: Sendable, Equatable {
        public var keys: [Int] = []
        public var values: [Int] = []
    }

    /// Every value the pickle built, in creation order.
    public fileprivate(set) var nodes: [Node] = []
    /// Members of lists and sets, by the index their node holds.
    public fileprivate(set) var lists: [[Int]] = []
    /// Entries of dicts (in insertion order; a repeated key appears twice, the last one wins).
    public fileprivate(set) var dicts: [Dict] = []
    /// Storage references, by the index their node holds.
    public fileprivate(set) var storages: [Storage] = []
    /// Tensor records, by the index their node holds.
    public fileprivate(set) var tensors: [Tensor] = []
    /// The index of the object the pickle returned.
    public fileprivate(set) var root = 0

    /// Runs the pickle in `bytes`; `file` names it in errors. Throws `pickleTruncated`,
    /// `pickleUnknownOpcode` or `pickleMalformed`.
    public init(bytes: UnsafeRawBufferPointer, file: String) throws {
        var machine = Machine(bytes: bytes, file: file)
        try machine.run(into: &self)
    }

    // MARK: Reading the graph

    /// The node at `index` (an index from `root` or from another node).
    public func node(_ index: Int) -> Node { nodes[index] }

    /// The value stored under the string key `key` of the dict at `index` (the last one, as
    /// Python keeps), or `nil` if `index` is not a dict or has no such key.
    public func value(forKey key: String, inDict index: Int) -> Int? {
        guard case .dict(let dictIndex) = nodes[index] else { return nil }
        let dict = dicts[dictIndex]
        for position in dict.keys.indices.reversed() {
            if case .string(let candidate) = nodes[dict.keys[position]], candidate == key {
                return dict.values[position]
            }
        }
        return nil
    }

    // MARK: Building the graph

    fileprivate mutating func add(_ node: Node) -> Int {
        nodes.append(node)
        return nodes.count - 1
    }

    fileprivate mutating func addList(_ items: [Int]) -> Int {
        lists.append(items)
        return add(.list(lists.count - 1))
    }

    fileprivate mutating func addDict(_ dict: Dict) -> Int {
        dicts.append(dict)
        return add(.dict(dicts.count - 1))
    }

    fileprivate mutating func appendToList(_ listIndex: Int, _ items: ArraySlice<Int>) {
        lists[listIndex].append(contentsOf: items)
    }

    fileprivate mutating func setItems(_ dictIndex: Int, _ pairs: ArraySlice<Int>) {
        var position = pairs.startIndex
        while position + 1 < pairs.endIndex {
            dicts[dictIndex].keys.append(pairs[position])
            dicts[dictIndex].values.append(pairs[position + 1])
            position += 2
        }
    }

    fileprivate mutating func addStorage(_ storage: Storage) -> Int {
        storages.append(storage)
        return add(.storage(storages.count - 1))
    }

    fileprivate mutating func addTensor(_ tensor: Tensor) -> Int {
        tensors.append(tensor)
        return add(.tensor(tensors.count - 1))
    }

    fileprivate mutating func setRoot(_ index: Int) { root = index }
}

// MARK: - The machine

private struct Machine {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var position = 0
    /// Where the current opcode began, for error messages.
    var opcodeStart = 0
    var stack: [Int] = []
    var marks: [Int] = []
    var memo: [Int: Int] = [:]
    /// Members the interpreted calls may still copy (see `Pickle.maximumCopiedMembers`).
    var copyBudget: Int

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
        self.copyBudget = Pickle.maximumCopiedMembers(forBytes: bytes.count)
    }

    /// Takes `count` members from the copy budget, or throws.
    mutating func charge(_ count: Int, for what: String) throws {
        guard count <= copyBudget else {
            throw malformed("\(what) copies more members than a pickle of \(bytes.count) bytes can hold")
        }
        copyBudget -= count
    }

    var remaining: Int { bytes.count - position }

    func malformed(_ reason: String) -> WeightsError {
        .pickleMalformed(file: file, offset: opcodeStart, reason: reason)
    }

    // MARK: Reading the stream

    @inline(__always)
    mutating func need(_ count: Int) throws {
        guard count >= 0, count <= remaining else { throw WeightsError.pickleTruncated(file: file, offset: bytes.count) }
    }

    @inline(__always)
    mutating func readByte() throws -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        try need(MemoryLayout<T>.size)
        defer { position += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// A length field, checked against the bytes that follow it.
    mutating func readLength<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws -> Int {
        let length = try read(T.self)
        guard UInt64(length) <= UInt64(remaining) else { throw WeightsError.pickleTruncated(file: file, offset: bytes.count) }
        return Int(length)
    }

    mutating func readSlice(_ count: Int) throws -> UnsafeRawBufferPointer {
        try need(count)
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    mutating func readString(_ count: Int) throws -> String {
        String(decoding: try readSlice(count), as: UTF8.self)
    }

    /// A newline-terminated line (protocol 0 arguments), without the newline.
    mutating func readLine() throws -> String {
        var end = position
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else { throw WeightsError.pickleTruncated(file: file, offset: bytes.count) }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
        position = end + 1
        return line
    }

    // MARK: The stack

    @inline(__always)
    mutating func push(_ index: Int) { stack.append(index) }

    /// Items below the latest MARK cannot be popped (as in CPython's unpickler).
    @inline(__always)
    mutating func pop() throws -> Int {
        guard stack.count > (marks.last ?? 0) else { throw malformed("stack underflow") }
        return stack.removeLast()
    }

    func top() throws -> Int {
        guard stack.count > (marks.last ?? 0), let top = stack.last else { throw malformed("stack underflow") }
        return top
    }

    /// Removes and returns the items above the latest MARK, in time proportional to their
    /// number: they are copied out before the stack shrinks, so no slice still shares the
    /// stack's buffer when it does (one would make the removal copy the whole stack, every
    /// record of a state dict pending under SETITEMS's MARK included: quadratic in the records).
    mutating func popMark() throws -> ArraySlice<Int> {
        guard let mark = marks.popLast() else { throw malformed("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items[...]
    }

    mutating func memoGet(_ key: Int) throws -> Int {
        guard let index = memo[key] else { throw malformed("memo key \(key) was never stored") }
        return index
    }

    // MARK: Running

    mutating func run(into graph: inout Pickle) throws {
        while true {
            opcodeStart = position
            let opcode = try readByte()
            switch opcode {
            case 0x80:  // PROTO
                let version = try readByte()
                guard version <= 5 else { throw malformed("pickle protocol \(version) is newer than 5") }
            case 0x95:  // FRAME: a length hint; the frame's opcodes follow inline
                _ = try read(UInt64.self)
            case 0x2E:  // STOP
                graph.setRoot(try pop())
                return

            // Marks and stack manipulation.
            case 0x28:  // MARK
                marks.append(stack.count)
            case 0x30:  // POP
                if let mark = marks.last, mark == stack.count {
                    marks.removeLast()  // Python pops a MARK that sits on top
                } else {
                    _ = try pop()
                }
            case 0x31:  // POP_MARK
                _ = try popMark()
            case 0x32:  // DUP
                push(try top())

            // Memo.
            case 0x71:  // BINPUT
                memo[Int(try readByte())] = try top()
            case 0x72:  // LONG_BINPUT
                memo[Int(try read(UInt32.self))] = try top()
            case 0x94:  // MEMOIZE
                memo[memo.count] = try top()
            case 0x70:  // PUT
                let line = try readLine()
                guard let key = Int(line) else { throw malformed("PUT key '\(line)' is not a number") }
                memo[key] = try top()
            case 0x68:  // BINGET
                push(try memoGet(Int(try readByte())))
            case 0x6A:  // LONG_BINGET
                push(try memoGet(Int(try read(UInt32.self))))
            case 0x67:  // GET
                let line = try readLine()
                guard let key = Int(line) else { throw malformed("GET key '\(line)' is not a number") }
                push(try memoGet(key))

            // Constants and numbers.
            case 0x4E:  // NONE
                push(graph.add(.none))
            case 0x88:  // NEWTRUE
                push(graph.add(.bool(true)))
            case 0x89:  // NEWFALSE
                push(graph.add(.bool(false)))
            case 0x4A:  // BININT
                push(graph.add(.int(Int(try read(Int32.self)))))
            case 0x4B:  // BININT1
                push(graph.add(.int(Int(try readByte()))))
            case 0x4D:  // BININT2
                push(graph.add(.int(Int(try read(UInt16.self)))))
            case 0x8A:  // LONG1
                let count = try readLength(UInt8.self)
                push(graph.add(try readLong(count)))
            case 0x8B:  // LONG4
                let count = try readLength(UInt32.self)
                push(graph.add(try readLong(count)))
            case 0x47:  // BINFLOAT (big-endian)
                let bits = try read(UInt64.self).byteSwapped
                push(graph.add(.float(Double(bitPattern: bits))))
            case 0x49:  // INT (text; I00 and I01 are False and True)
                let line = try readLine()
                if line == "00" { push(graph.add(.bool(false))) }
                else if line == "01" { push(graph.add(.bool(true))) }
                else { push(graph.add(Int(line).map(Pickle.Node.int) ?? .bigInt)) }
            case 0x4C:  // LONG (text, with a trailing L)
                let line = try readLine()
                let digits = line.hasSuffix("L") ? String(line.dropLast()) : line
                push(graph.add(Int(digits).map(Pickle.Node.int) ?? .bigInt))
            case 0x46:  // FLOAT (text)
                let line = try readLine()
                guard let value = Double(line) else { throw malformed("FLOAT '\(line)' is not a number") }
                push(graph.add(.float(value)))

            // Strings and bytes.
            case 0x8C:  // SHORT_BINUNICODE
                let count = try readLength(UInt8.self)
                push(graph.add(.string(try readString(count))))
            case 0x58:  // BINUNICODE
                let count = try readLength(UInt32.self)
                push(graph.add(.string(try readString(count))))
            case 0x8D:  // BINUNICODE8
                let count = try readLength(UInt64.self)
                push(graph.add(.string(try readString(count))))
            case 0x55:  // SHORT_BINSTRING
                let count = try readLength(UInt8.self)
                push(graph.add(.string(try readString(count))))
            case 0x54:  // BINSTRING
                let count = try readLength(UInt32.self)
                push(graph.add(.string(try readString(count))))
            case 0x53, 0x56:  // STRING (quoted repr), UNICODE (raw-unicode-escape): kept raw
                var line = try readLine()
                if opcode == 0x53, line.count >= 2, let quote = line.first, quote == "'" || quote == "\"",
                   line.last == quote {
                    line = String(line.dropFirst().dropLast())
                }
                push(graph.add(.string(line)))
            case 0x43:  // SHORT_BINBYTES
                let count = try readLength(UInt8.self)
                position += count
                push(graph.add(.bytes(count: count)))
            case 0x42:  // BINBYTES
                let count = try readLength(UInt32.self)
                position += count
                push(graph.add(.bytes(count: count)))
            case 0x8E, 0x96:  // BINBYTES8, BYTEARRAY8
                let count = try readLength(UInt64.self)
                position += count
                push(graph.add(.bytes(count: count)))

            // Tuples, lists, dicts, sets.
            case 0x29:  // EMPTY_TUPLE
                push(graph.add(.tuple([])))
            case 0x85:  // TUPLE1
                let first = try pop()
                push(graph.add(.tuple([first])))
            case 0x86:  // TUPLE2
                let second = try pop(), first = try pop()
                push(graph.add(.tuple([first, second])))
            case 0x87:  // TUPLE3
                let third = try pop(), second = try pop(), first = try pop()
                push(graph.add(.tuple([first, second, third])))
            case 0x74:  // TUPLE
                push(graph.add(.tuple(Array(try popMark()))))
            case 0x5D:  // EMPTY_LIST
                push(graph.addList([]))
            case 0x6C:  // LIST
                push(graph.addList(Array(try popMark())))
            case 0x61:  // APPEND
                let item = try pop()
                try append(ArraySlice([item]), to: try top(), in: &graph)
            case 0x65:  // APPENDS
                let items = try popMark()
                try append(items, to: try top(), in: &graph)
            case 0x7D:  // EMPTY_DICT
                push(graph.addDict(Pickle.Dict()))
            case 0x64:  // DICT
                let items = try popMark()
                guard items.count % 2 == 0 else { throw malformed("DICT with an odd number of items") }
                let dict = graph.addDict(Pickle.Dict())
                try setItems(items, in: dict, graph: &graph)
                push(dict)
            case 0x73:  // SETITEM
                let value = try pop(), key = try pop()
                try setItems(ArraySlice([key, value]), in: try top(), graph: &graph)
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw malformed("SETITEMS with an odd number of items") }
                try setItems(items, in: try top(), graph: &graph)
            case 0x8F:  // EMPTY_SET
                graph.lists.append([])
                push(graph.add(.set(graph.lists.count - 1)))
            case 0x91:  // FROZENSET
                let items = try popMark()
                graph.lists.append(Array(items))
                push(graph.add(.set(graph.lists.count - 1)))
            case 0x90:  // ADDITEMS
                let items = try popMark()
                let target = try top()
                switch graph.node(target) {
                case .set(let listIndex): graph.appendToList(listIndex, items)
                case .opaque: break
                default: throw malformed("ADDITEMS on something that is not a set")
                }

            // Classes and objects.
            case 0x63:  // GLOBAL
                let module = try readLine()
                let name = try readLine()
                try allow(module, name)
                push(graph.add(.global(module: module, name: name)))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case .string(let moduleName) = graph.node(module), case .string(let className) = graph.node(name) else {
                    throw malformed("STACK_GLOBAL needs two strings")
                }
                try allow(moduleName, className)
                push(graph.add(.global(module: moduleName, name: className)))
            case 0x52:  // REDUCE
                let arguments = try pop(), callable = try pop()
                push(try call(callable, arguments, in: &graph, depth: 0))
            case 0x62:  // BUILD: sets an object's state; the object stays as it is
                _ = try pop()
                _ = try top()
            case 0x81:  // NEWOBJ
                _ = try pop()
                let cls = try pop()
                push(graph.add(.opaque(Self.className(cls, graph))))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                _ = try pop()
                let cls = try pop()
                push(graph.add(.opaque(Self.className(cls, graph))))
            case 0x6F:  // OBJ: MARK cls args…
                let items = try popMark()
                guard let cls = items.first else { throw malformed("OBJ without a class") }
                push(graph.add(.opaque(Self.className(cls, graph))))
            case 0x69:  // INST: MARK args… then module and name lines
                let module = try readLine()
                let name = try readLine()
                try allow(module, name)
                _ = try popMark()
                push(graph.add(.opaque("\(module).\(name)")))
            case 0x51:  // BINPERSID
                let id = try pop()
                push(persistentLoad(id, in: &graph))
            case 0x50:  // PERSID (text id): not something torch writes
                let line = try readLine()
                push(graph.add(.opaque("persistent id \(line)")))
            case 0x98:  // READONLY_BUFFER: marks the top buffer read-only
                _ = try top()
            default:  // includes NEXT_BUFFER (0x97): out-of-band buffers are never given; and EXT1,
                      // EXT2, EXT4 (0x82–0x84), which name a global through copyreg's extension
                      // registry, out of sight of the allow-list (torch.load(weights_only=True) refuses them too)
                throw WeightsError.pickleUnknownOpcode(file: file, opcode: opcode, offset: opcodeStart)
            }
        }
    }

    /// Throws `pickleForbiddenGlobal` unless `module.name` is on `Pickle.allowedGlobals`.
    func allow(_ module: String, _ name: String) throws {
        guard Pickle.isAllowedGlobal(module: module, name: name) else {
            throw WeightsError.pickleForbiddenGlobal(file: file, offset: opcodeStart, module: module, name: name)
        }
    }

    /// LONG1/LONG4 payload: little-endian two's complement of `count` bytes.
    mutating func readLong(_ count: Int) throws -> Pickle.Node {
        let digits = try readSlice(count)
        guard count <= 8 else { return .bigInt }
        if count == 0 { return .int(0) }
        var value: UInt64 = 0
        for index in (0..<count).reversed() { value = value << 8 | UInt64(digits[index]) }
        let unused = UInt64(64 - 8 * count)
        // Shift up, then arithmetic shift down, to sign-extend.
        return .int(Int(Int64(bitPattern: value << unused) >> Int64(unused)))
    }

    mutating func append(_ items: ArraySlice<Int>, to target: Int, in graph: inout Pickle) throws {
        switch graph.node(target) {
        case .list(let listIndex): graph.appendToList(listIndex, items)
        case .opaque: break  // a list subclass we do not model
        default: throw malformed("APPEND to something that is not a list")
        }
    }

    mutating func setItems(_ pairs: ArraySlice<Int>, in target: Int, graph: inout Pickle) throws {
        switch graph.node(target) {
        case .dict(let dictIndex): graph.setItems(dictIndex, pairs)
        case .opaque: break  // a dict subclass we do not model
        default: throw malformed("SETITEM on something that is not a dict")
        }
    }

    static func className(_ index: Int, _ graph: Pickle) -> String {
        if case .global(let module, let name) = graph.node(index) { return "\(module).\(name)" }
        return "?"
    }

    /// `('storage', storage_type, key, location, numel)`; anything else is opaque.
    func persistentLoad(_ id: Int, in graph: inout Pickle) -> Int {
        guard case .tuple(let fields) = graph.node(id), fields.count >= 5,
              case .string("storage") = graph.node(fields[0]),
              case .global(let module, let name) = graph.node(fields[1]) else {
            return graph.add(.opaque("persistent id"))
        }
        let key: String
        switch graph.node(fields[2]) {
        case .string(let text): key = text
        case .int(let number): key = String(number)
        default: return graph.add(.opaque("persistent id"))
        }
        var location = ""
        if case .string(let text) = graph.node(fields[3]) { location = text }
        var elementCount = -1
        if case .int(let number) = graph.node(fields[4]) { elementCount = number }
        return graph.addStorage(Pickle.Storage(typeName: "\(module).\(name)", key: key,
                                               location: location, elementCount: elementCount))
    }

    /// REDUCE: the known callables are interpreted; every other call yields an opaque node.
    mutating func call(_ callable: Int, _ arguments: Int, in graph: inout Pickle, depth: Int) throws -> Int {
        guard case .global(let module, let name) = graph.node(callable) else { return graph.add(.opaque("?")) }
        let args: [Int]
        if case .tuple(let items) = graph.node(arguments) { args = items } else { args = [] }
        switch (module, name) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard args.count >= 4 else { throw malformed("\(name) with \(args.count) arguments") }
            guard case .storage(let storage) = graph.node(args[0]) else { throw malformed("\(name) without a storage") }
            guard case .int(let offset) = graph.node(args[1]) else { throw malformed("\(name) with a non-integer offset") }
            let shape = try integers(args[2], graph, what: "size")
            let strides = try integers(args[3], graph, what: "stride")
            try charge(shape.count + strides.count, for: name)
            return graph.addTensor(Pickle.Tensor(storage: storage, storageOffset: offset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = args.first else { throw malformed("\(name) without data") }
            return data
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch._tensor", "_rebuild_from_type"):
            // (func, new_type, args, state): a tensor subclass; the tensor is func(*args).
            guard args.count >= 3, depth < 8 else { return graph.add(.opaque("\(module).\(name)")) }
            return try call(args[0], args[2], in: &graph, depth: depth + 1)
        case ("collections", "OrderedDict"):
            var dict = Pickle.Dict()
            // OrderedDict(pairs): a list or tuple of 2-tuples (usually empty: items come by SETITEMS).
            if let first = args.first {
                var pairs: [Int] = []
                switch graph.node(first) {
                case .list(let listIndex): pairs = graph.lists[listIndex]
                case .tuple(let items): pairs = items
                default: break
                }
                try charge(pairs.count, for: "\(module).\(name)")
                for pair in pairs {
                    if case .tuple(let keyValue) = graph.node(pair), keyValue.count == 2 {
                        dict.keys.append(keyValue[0])
                        dict.values.append(keyValue[1])
                    }
                }
            }
            return graph.addDict(dict)
        default:
            return graph.add(.opaque("\(module).\(name)"))
        }
    }

    func integers(_ index: Int, _ graph: Pickle, what: String) throws -> [Int] {
        guard case .tuple(let items) = graph.node(index) else { throw malformed("tensor \(what) is not a tuple") }
        return try items.map {
            guard case .int(let value) = graph.node($0) else { throw malformed("tensor \(what) holds a non-integer") }
            return value
        }
    }
}
