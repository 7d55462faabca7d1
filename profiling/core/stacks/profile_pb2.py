"""pprof's message classes (package perftools.profiles), built from profile.proto in a private pool.

profile.proto next to this file is pprof's published format, proto/profile.proto of
github.com/google/pprof (Apache-2.0, its license header kept), unchanged. SERIALIZED below is
the FileDescriptorProto protoc makes of it; regenerate it after changing the .proto with

    python -m grpc_tools.protoc -I profiling/core/stacks --descriptor_set_out=profile.binpb profile.proto

(grpcio-tools is a dev dependency) and take `FileDescriptorSet.FromString(...).file[0]
.SerializeToString()`; tests/core/test_stacks_export.py fails, printing the new value, while
it differs from what protoc makes.

Why not protoc's own `profile_pb2.py`: that code refuses any protobuf runtime older than the
protoc that generated it (grpcio-tools' protoc is always one of the newest), and it adds
`profile.proto` to the process's default pool, where another library's copy of pprof's proto
would clash. Classes made from a descriptor in a pool of their own work with every protobuf
this package's range accepts and share nothing with the host's protos.
"""

from __future__ import annotations

from google.protobuf import descriptor_pool, message_factory

SERIALIZED = (
    b'\n\rprofile.proto\x12\x12perftools.profiles"\x8e\x05\n\x07Profile\x12>\n\x0bsample_type\x18\x01 '
    b"\x03(\x0b2\x1d.perftools.profiles.ValueTypeR\nsampleType\x122\n\x06sample\x18\x02 \x03(\x0b2\x1a."
    b"perftools.profiles.SampleR\x06sample\x125\n\x07mapping\x18\x03 \x03(\x0b2\x1b.perftools.profiles."
    b"MappingR\x07mapping\x128\n\x08location\x18\x04 \x03(\x0b2\x1c.perftools.profiles.LocationR\x08loc"
    b"ation\x128\n\x08function\x18\x05 \x03(\x0b2\x1c.perftools.profiles.FunctionR\x08function\x12!\n"
    b"\x0cstring_table\x18\x06 \x03(\tR\x0bstringTable\x12\x1f\n\x0bdrop_frames\x18\x07 \x01(\x03R\ndro"
    b"pFrames\x12\x1f\n\x0bkeep_frames\x18\x08 \x01(\x03R\nkeepFrames\x12\x1d\n\ntime_nanos\x18\t \x01("
    b"\x03R\ttimeNanos\x12%\n\x0eduration_nanos\x18\n \x01(\x03R\rdurationNanos\x12>\n\x0bperiod_type"
    b"\x18\x0b \x01(\x0b2\x1d.perftools.profiles.ValueTypeR\nperiodType\x12\x16\n\x06period\x18\x0c "
    b"\x01(\x03R\x06period\x12\x18\n\x07comment\x18\r \x03(\x03R\x07comment\x12.\n\x13default_sample_ty"
    b'pe\x18\x0e \x01(\x03R\x11defaultSampleType\x12\x17\n\x07doc_url\x18\x0f \x01(\x03R\x06docUrl"3\n'
    b"\tValueType\x12\x12\n\x04type\x18\x01 \x01(\x03R\x04type\x12\x12\n\x04unit\x18\x02 \x01(\x03R\x04"
    b'unit"p\n\x06Sample\x12\x1f\n\x0blocation_id\x18\x01 \x03(\x04R\nlocationId\x12\x14\n\x05value\x18'
    b"\x02 \x03(\x03R\x05value\x12/\n\x05label\x18\x03 \x03(\x0b2\x19.perftools.profiles.LabelR\x05labe"
    b'l"X\n\x05Label\x12\x10\n\x03key\x18\x01 \x01(\x03R\x03key\x12\x10\n\x03str\x18\x02 \x01(\x03R\x03'
    b"str\x12\x10\n\x03num\x18\x03 \x01(\x03R\x03num\x12\x19\n\x08num_unit\x18\x04 \x01(\x03R\x07numUni"
    b't"\xd7\x02\n\x07Mapping\x12\x0e\n\x02id\x18\x01 \x01(\x04R\x02id\x12!\n\x0cmemory_start\x18\x02 '
    b"\x01(\x04R\x0bmemoryStart\x12!\n\x0cmemory_limit\x18\x03 \x01(\x04R\x0bmemoryLimit\x12\x1f\n\x0bf"
    b"ile_offset\x18\x04 \x01(\x04R\nfileOffset\x12\x1a\n\x08filename\x18\x05 \x01(\x03R\x08filename"
    b"\x12\x19\n\x08build_id\x18\x06 \x01(\x03R\x07buildId\x12#\n\rhas_functions\x18\x07 \x01(\x08R\x0c"
    b"hasFunctions\x12#\n\rhas_filenames\x18\x08 \x01(\x08R\x0chasFilenames\x12(\n\x10has_line_numbers"
    b"\x18\t \x01(\x08R\x0ehasLineNumbers\x12*\n\x11has_inline_frames\x18\n \x01(\x08R\x0fhasInlineFram"
    b'es"\x9e\x01\n\x08Location\x12\x0e\n\x02id\x18\x01 \x01(\x04R\x02id\x12\x1d\n\nmapping_id\x18\x02 '
    b"\x01(\x04R\tmappingId\x12\x18\n\x07address\x18\x03 \x01(\x04R\x07address\x12,\n\x04line\x18\x04 "
    b"\x03(\x0b2\x18.perftools.profiles.LineR\x04line\x12\x1b\n\tis_folded\x18\x05 \x01(\x08R\x08isFold"
    b'ed"S\n\x04Line\x12\x1f\n\x0bfunction_id\x18\x01 \x01(\x04R\nfunctionId\x12\x12\n\x04line\x18\x02 '
    b'\x01(\x03R\x04line\x12\x16\n\x06column\x18\x03 \x01(\x03R\x06column"\x8a\x01\n\x08Function\x12'
    b"\x0e\n\x02id\x18\x01 \x01(\x04R\x02id\x12\x12\n\x04name\x18\x02 \x01(\x03R\x04name\x12\x1f\n\x0bs"
    b"ystem_name\x18\x03 \x01(\x03R\nsystemName\x12\x1a\n\x08filename\x18\x04 \x01(\x03R\x08filename"
    b"\x12\x1d\n\nstart_line\x18\x05 \x01(\x03R\tstartLineB-\n\x1dcom.google.perftools.profilesB\x0cPro"
    b"fileProtob\x06proto3"
)

POOL = descriptor_pool.DescriptorPool()
DESCRIPTOR = POOL.AddSerializedFile(SERIALIZED)


def _message(name: str):
    return message_factory.GetMessageClass(POOL.FindMessageTypeByName(f"perftools.profiles.{name}"))


Profile = _message("Profile")
ValueType = _message("ValueType")
Sample = _message("Sample")
Label = _message("Label")
Mapping = _message("Mapping")
Location = _message("Location")
Line = _message("Line")
Function = _message("Function")
