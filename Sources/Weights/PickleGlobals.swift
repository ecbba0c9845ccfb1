extension Pickle {
    /// Every global (`module.name`) a checkpoint's pickle may name; any other is refused.
    ///
    /// This is what `torch.load(weights_only=True)` accepts by default (PyTorch's
    /// `torch/_weights_only_unpickler.py`, `_get_allowed_globals`): the tensor rebuild
    /// functions, storage, tensor and dtype classes, `torch.Size`, `torch.device`,
    /// `collections.OrderedDict` and `Counter`, `builtins.set`, `bytearray`, `complex` and
    /// `_codecs.encode` (how protocol 2 writes bytes). Added to it, the plain value types a
    /// Lightning checkpoint's hyper-parameters and loop state hold in our fixtures
    /// (`Tests/Fixtures/weights/lightning*.ckpt`): `argparse.Namespace`, `datetime.datetime`,
    /// `fractions.Fraction`, `pathlib.PurePosixPath`, `builtins.frozenset` and numpy's array,
    /// dtype and scalar reconstructors. None of these runs code of the file's choosing when
    /// Python unpickles it. Python 2 names (`__builtin__.set`) are read as Python 3's, as torch does.
    public static let allowedGlobals: Set<String> = {
        var names: Set<String> = [
            "collections.OrderedDict", "collections.Counter",
            "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch.Size", "torch.Tensor", "torch.device",
            "_codecs.encode", "builtins.bytearray", "builtins.set", "builtins.complex",
            "torch._tensor._rebuild_from_type_v2",
            "torch.storage.TypedStorage", "torch.storage.UntypedStorage", "torch.TypedStorage", "torch.UntypedStorage",
            // Lightning's extras, as in our fixtures.
            "builtins.frozenset", "argparse.Namespace", "datetime.datetime", "fractions.Fraction", "pathlib.PurePosixPath",
            "numpy.dtype", "numpy.ndarray",
            "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
            "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
            "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
        ]
        for function in ["_rebuild_parameter", "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_tensor",
                         "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_sparse_tensor",
                         "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
                         "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor"] {
            names.insert("torch._utils." + function)
        }
        let plain = ["Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"]
        for kind in plain {
            for module in ["torch", "torch.cuda"] {
                names.insert("\(module).\(kind)Storage")
                names.insert("\(module).\(kind)Tensor")
            }
            names.insert("torch.sparse.\(kind)Tensor")
        }
        for kind in ["ComplexDouble", "ComplexFloat", "QUInt8", "QInt8", "QInt32", "QUInt4x2", "QUInt2x4"] {
            names.insert("torch.\(kind)Storage")
        }
        let dtypes = ["float32", "float64", "float16", "bfloat16", "complex32", "complex64", "complex128",
                      "uint8", "int8", "int16", "int32", "int64", "bool", "uint16", "uint32", "uint64",
                      "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
                      "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
                      "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
                      "per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
                      "per_channel_affine_float_qparams"]
            + (1...7).flatMap { ["uint\($0)", "int\($0)"] }
        for dtype in dtypes { names.insert("torch." + dtype) }
        return names
    }()

    /// Whether a pickle may name `module.name` (see `allowedGlobals`).
    public static func isAllowedGlobal(module: String, name: String) -> Bool {
        let module3 = module == "__builtin__" ? "builtins" : module
        return allowedGlobals.contains(module3 + "." + name)
    }
}
