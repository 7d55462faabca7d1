// Decode a gzipped pprof profile with pprof-format (an encoder/decoder of its own, not
// protobuf's) and print every field as JSON, strings resolved, integers as decimal strings.
// Usage: node read_pprof.cjs PROFILE.pb.gz
"use strict";
const fs = require("fs");
const zlib = require("zlib");
const { Profile } = require("pprof-format");

const profile = Profile.decode(zlib.gunzipSync(fs.readFileSync(process.argv[2])));
const strings = profile.stringTable.strings;
const int = (value) => String(value ?? 0);
const str = (index) => {
  const text = strings[Number(index ?? 0)];
  if (text === undefined) throw new Error(`string index ${index} out of the table`);
  return text;
};
const valueType = (vt) => (vt ? { type: str(vt.type), unit: str(vt.unit) } : null);

const out = {
  string_table: strings,
  sample_type: profile.sampleType.map(valueType),
  sample: profile.sample.map((s) => ({
    location_id: s.locationId.map(int),
    value: s.value.map(int),
    label: s.label.map((l) => ({ key: str(l.key), str: str(l.str), num: int(l.num), num_unit: str(l.numUnit) })),
  })),
  mapping: profile.mapping.map((m) => ({ id: int(m.id) })),
  location: profile.location.map((l) => ({
    id: int(l.id),
    mapping_id: int(l.mappingId),
    address: int(l.address),
    is_folded: Boolean(l.isFolded),
    line: l.line.map((line) => ({ function_id: int(line.functionId), line: int(line.line), column: int(line.column) })),
  })),
  function: profile.function.map((f) => ({
    id: int(f.id),
    name: str(f.name),
    system_name: str(f.systemName),
    filename: str(f.filename),
    start_line: int(f.startLine),
  })),
  drop_frames: str(profile.dropFrames),
  keep_frames: str(profile.keepFrames),
  time_nanos: int(profile.timeNanos),
  duration_nanos: int(profile.durationNanos),
  period_type: valueType(profile.periodType),
  period: int(profile.period),
  comment: profile.comment.map(str),
  default_sample_type: str(profile.defaultSampleType),
  doc_url: str(profile.docUrl),
};
process.stdout.write(JSON.stringify(out));
