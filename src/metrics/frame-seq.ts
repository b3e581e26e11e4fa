/**
 * The reliable seq of an encoded ServerPush frame, read in place (no decode, no
 * allocation): 4-byte length prefix, then protobuf fields in number order,
 * msg_id (1, varint) and seq_id (2, varint). Control frames (seq 0) carry no
 * field 2 and give 0; so does anything unexpected.
 */
export function frameSeq(frame: Uint8Array): number {
  const end = frame.length;
  let pos = 4;
  if (pos >= end) return 0;
  let tag = frame[pos++]!;
  if (tag === 0x08) {
    // skip msg_id
    while (pos < end && frame[pos]! & 0x80) pos++;
    pos++;
    if (pos >= end) return 0;
    tag = frame[pos++]!;
  }
  if (tag !== 0x10) return 0;
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 8 && pos < end; i++) {
    const b = frame[pos++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return value;
    mul *= 128;
  }
  return 0;
}
