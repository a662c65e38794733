package embedded

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/deeprank/deeprank/vectorstore"
)

// The log holds what was written since the last compaction, one record per
// batch (an Upsert or a Delete call), so that a reader sees a batch whole or
// not at all. A record is
//
//	magic "DRL2" | uint32 payload length | uint32 CRC-32C of the payload |
//	uint32 CRC-32C of the 12 bytes before it | payload
//
// and its payload is a uint32 entry count, then per entry: op byte, 32-byte
// id and, for an upsert, uint32 metadata length, metadata JSON and the item's
// float32 values. Little-endian.
//
// The header's own checksum is what tells a torn write from damage: a
// damaged length fails it, so it can never be taken for a record that runs
// past the end of the file, and the records after it are never cut off.
const (
	logMagic   = "DRL2"
	recordHead = 16
	opUpsert   = 1
	opDelete   = 2
)

// maxRecord bounds a record's declared length, so a damaged length cannot
// make replay allocate without limit; Upsert splits bigger batches. A
// variable so that a test can reach the split with small batches.
var maxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// entry is one upsert or delete of a log record.
type entry struct {
	op   byte
	id   string
	item vectorstore.Item // for an upsert
	js   []byte           // the upsert's metadata as JSON, as in the log
}

// appendRecord frames a payload as a log record.
func appendRecord(buf, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, recordHead)...)
	buf = append(buf, payload...)
	frame(buf[start:])
	return buf
}

// frame fills in the header of the record rec, whose payload follows its
// header's place.
func frame(rec []byte) {
	payload := rec[recordHead:]
	copy(rec, logMagic)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(rec[8:], crc(payload))
	binary.LittleEndian.PutUint32(rec[12:], crc(rec[:12]))
}

// encodeRecords encodes entries as log records, each (but one holding a
// single huge entry) under maxRecord: the bytes to append to the log. It
// sets each upsert's js.
func encodeRecords(entries []entry) []byte {
	size := 0
	for _, e := range entries {
		size += 37 + 4*len(e.item.Vector) + 256
	}
	buf := make([]byte, 0, size+recordHead+4)
	start, n := -1, 0
	closeRecord := func() {
		if start >= 0 {
			binary.LittleEndian.PutUint32(buf[start+recordHead:], uint32(n))
			frame(buf[start:])
		}
		start, n = len(buf), 0
		buf = append(buf, make([]byte, recordHead+4)...)
	}
	closeRecord()
	var raw [32]byte
	for i := range entries {
		e := &entries[i]
		at := len(buf)
		buf = append(buf, e.op)
		hex.Decode(raw[:], []byte(e.id)) // ids are validated before
		buf = append(buf, raw[:]...)
		if e.op == opUpsert {
			e.js = appendMetaJSON(make([]byte, 0, 128+len(e.item.Metadata.Path)+len(e.item.Metadata.Class)), e.item.Metadata)
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(e.js)))
			buf = append(buf, e.js...)
			buf = append(buf, floatBytes(e.item.Vector)...)
		}
		if n > 0 && len(buf)-start-recordHead > maxRecord { // move this entry into a record of its own
			one := append([]byte(nil), buf[at:]...)
			buf = buf[:at]
			closeRecord()
			buf = append(buf, one...)
		}
		n++
	}
	binary.LittleEndian.PutUint32(buf[start+recordHead:], uint32(n))
	frame(buf[start:])
	return buf
}

// decodeEntries decodes a record's payload for a collection of items width
// values long.
func decodeEntries(p []byte, width int) ([]entry, error) {
	if len(p) < 4 {
		return nil, errors.New("record too short")
	}
	n := int(binary.LittleEndian.Uint32(p))
	p = p[4:]
	if n > len(p)/33 {
		return nil, fmt.Errorf("%d entries cannot fit in %d bytes", n, len(p))
	}
	out := make([]entry, 0, n)
	for i := range n {
		if len(p) < 33 {
			return nil, fmt.Errorf("entry %d: cut short", i)
		}
		e := entry{op: p[0], id: hex.EncodeToString(p[1:33])}
		p = p[33:]
		switch e.op {
		case opDelete:
		case opUpsert:
			if len(p) < 4 {
				return nil, fmt.Errorf("entry %d: cut short", i)
			}
			ml := int(binary.LittleEndian.Uint32(p))
			if ml > len(p)-4 || len(p)-4-ml < 4*width {
				return nil, fmt.Errorf("entry %d: cut short", i)
			}
			e.js = bytes.Clone(p[4 : 4+ml])
			if err := parseMetaJSON(e.js, &e.item.Metadata); err != nil {
				return nil, fmt.Errorf("entry %d: metadata: %v", i, err)
			}
			p = p[4+ml:]
			e.item.ID = e.id
			e.item.Vector = make([]float32, width)
			for j := range e.item.Vector {
				e.item.Vector[j] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*j:]))
			}
			p = p[4*width:]
		default:
			return nil, fmt.Errorf("entry %d: unknown op %d", i, e.op)
		}
		out = append(out, e)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d bytes after the last entry", len(p))
	}
	return out, nil
}

// logScan is what reading a log found.
type logScan struct {
	// end is the offset just past the last record that verified.
	end int64
	// torn is the length of a tail after end that is a write cut short (a
	// header or payload not all there, or zeros): never acknowledged, safe
	// to drop.
	torn int64
	// damage, when not nil, is a record at end that fails its checks and
	// is not a torn write; nothing after it was read.
	damage *Damage
}

// scanLog reads the records of data, which starts at byte base of the log
// file, calling apply for each that verifies, until the end, a torn tail or
// damage. An error from apply is damage at that record.
func scanLog(file string, base int64, data []byte, width int, apply func([]entry)) logScan {
	off := 0
	for off < len(data) {
		rest := data[off:]
		at := base + int64(off)
		damage := func(format string, args ...any) logScan {
			return logScan{end: at, damage: &Damage{File: file, Offset: at, Reason: fmt.Sprintf(format, args...)}}
		}
		if allZero(rest) {
			return logScan{end: at, torn: int64(len(rest))}
		}
		if len(rest) < recordHead {
			return logScan{end: at, torn: int64(len(rest))}
		}
		if string(rest[:4]) != logMagic || crc(rest[:12]) != binary.LittleEndian.Uint32(rest[12:]) {
			return damage("record header fails its checksum")
		}
		plen := int(binary.LittleEndian.Uint32(rest[4:]))
		if plen > maxRecord {
			return damage("record length %d is over the limit", plen)
		}
		if recordHead+plen > len(rest) {
			return logScan{end: at, torn: int64(len(rest))}
		}
		payload := rest[recordHead : recordHead+plen]
		if crc(payload) != binary.LittleEndian.Uint32(rest[8:]) {
			return damage("record payload fails its checksum")
		}
		entries, err := decodeEntries(payload, width)
		if err != nil {
			return damage("%v", err)
		}
		apply(entries)
		off += recordHead + plen
	}
	return logScan{end: base + int64(off)}
}

// salvageLog returns every record of data that verifies, skipping damage
// by looking for the next header that verifies; lost counts the byte runs
// skipped.
func salvageLog(data []byte, width int) (kept [][]byte, entries int, skipped [][2]int64) {
	off := 0
	for off < len(data) {
		rest := data[off:]
		ok := len(rest) >= recordHead && string(rest[:4]) == logMagic &&
			crc(rest[:12]) == binary.LittleEndian.Uint32(rest[12:])
		if ok {
			plen := int(binary.LittleEndian.Uint32(rest[4:]))
			if plen <= maxRecord && recordHead+plen <= len(rest) {
				payload := rest[recordHead : recordHead+plen]
				if crc(payload) == binary.LittleEndian.Uint32(rest[8:]) {
					if es, err := decodeEntries(payload, width); err == nil {
						kept = append(kept, payload)
						entries += len(es)
						off += recordHead + plen
						continue
					}
				}
			}
		}
		// Skip to the next place a record could start.
		next := bytes.Index(rest[1:], []byte(logMagic))
		end := len(data)
		if next >= 0 {
			end = off + 1 + next
		}
		// Zeros count as damage too, unless they run to the end: a torn
		// tail, not a record lost in the middle.
		if end < len(data) || !allZero(data[off:end]) {
			if n := len(skipped); n > 0 && skipped[n-1][1] == int64(off) {
				skipped[n-1][1] = int64(end)
			} else {
				skipped = append(skipped, [2]int64{int64(off), int64(end)})
			}
		}
		off = end
	}
	return kept, entries, skipped
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
