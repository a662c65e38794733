package embedded

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
)

// The format before segments (deeprank up to format 1): a collection folder
// of spec.json and one log, "log", of records
//
//	uint32 payload length | uint32 CRC-32C of the payload | payload
//
// each payload one entry as in today's records (op, id, metadata,
// vector). Its records have no header checksum, so a torn write and a
// damaged length look alike: migration takes only a clean log, or one whose
// tail is shorter than a header or all zeros, and leaves anything else to
// repair.
const (
	legacySpec = "spec.json"
	legacyLog  = "log"
	legacyHead = 8
)

// legacyEntries reads an old log. With salvage it keeps every record that
// verifies, skipping damage, and says how many bytes it skipped;
// otherwise damage is an error.
func legacyEntries(data []byte, dim int, salvage bool) (entries []entry, skipped int64, err error) {
	off := 0
	for off < len(data) {
		rest := data[off:]
		if allZero(rest) || len(rest) < legacyHead && !salvage {
			return entries, skipped, nil // a torn tail
		}
		if len(rest) >= legacyHead {
			plen := int(binary.LittleEndian.Uint32(rest))
			if plen <= maxRecord && legacyHead+plen <= len(rest) {
				payload := rest[legacyHead : legacyHead+plen]
				if crc(payload) == binary.LittleEndian.Uint32(rest[4:]) {
					// An old payload is a new one's entry, without the count.
					one := append(binary.LittleEndian.AppendUint32(nil, 1), payload...)
					es, derr := decodeEntries(one, dim)
					if derr == nil {
						entries = append(entries, es...)
						off += legacyHead + plen
						continue
					}
				}
			}
		}
		if !salvage {
			return nil, 0, &Damage{File: legacyLog, Offset: int64(off), Reason: "record fails its checks (in the old format a damaged record and a torn write cannot be told apart)"}
		}
		off++
		skipped++
	}
	return entries, skipped, nil
}

// migrate turns a collection of the old format into a segment, an empty
// log and a manifest (the manifest last: until it is written, the old
// files are the collection), then removes the old files. Only a writer
// migrates; a reader is told to run one.
func (c *collection) migrate() error {
	_, err := os.Stat(c.path(legacySpec))
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(c.dir); errors.Is(derr, fs.ErrNotExist) {
			return c.errorf("open", vectorstore.ErrNotFound)
		}
		return c.errorf("open", fmt.Errorf("%w: the folder %s holds no %s: not a deeprank collection; move it out of the store", ErrCorrupt, c.dir, manifestName))
	}
	if !c.writable {
		return c.errorf("open", ErrOldFormat)
	}
	return c.migrateWith(false)
}

func (c *collection) migrateWith(salvage bool) error {
	spec, err := c.legacySpec()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(c.path(legacyLog))
	if err != nil {
		return c.errorf("migrate", err)
	}
	entries, skipped, err := legacyEntries(data, spec.ItemLen(), salvage)
	if err != nil {
		return c.corrupt(err)
	}
	mem := newMemtable(spec.ItemLen())
	for _, e := range entries {
		if e.op == opUpsert {
			mem.put(e.item, e.js)
		} else {
			mem.remove(e.id)
		}
	}
	m := &manifest{Format: formatCodes, UID: newName("")[:16], Spec: spec, Log: newName("log-")}
	var created []string
	fail := func(err error) error {
		for _, f := range created {
			os.Remove(c.path(f))
		}
		return c.errorf("migrate", err)
	}
	if n := len(mem.ids); n > 0 {
		ref := segmentRef{File: newName("seg-"), Rows: n, Live: n}
		if err := writeSegment(c.path(ref.File), shapeOf(spec), newSortedMem(mem), nil); err != nil {
			return fail(err)
		}
		created = append(created, ref.File)
		m.Segments = []segmentRef{ref}
	}
	log, err := createLog(c.path(m.Log))
	if err != nil {
		return fail(err)
	}
	log.Close()
	created = append(created, m.Log)
	if salvage && skipped > 0 {
		aside := legacyLog + "." + time.Now().UTC().Format("20060102T150405") + damagedSuffix
		if err := os.Link(c.path(legacyLog), c.path(aside)); err != nil {
			return fail(err)
		}
		c.store.logf("collection %q: %d damaged bytes in the old log skipped; it is kept as %s", c.name, skipped, aside)
	}
	if err := writeManifest(c.dir, manifestName, m); err != nil {
		return fail(err)
	}
	for _, f := range []string{legacySpec, legacyLog} {
		os.Remove(c.path(f))
	}
	c.store.logf("collection %q: moved to the segment format (%d items)", c.name, len(mem.ids))
	return nil
}

func (c *collection) legacySpec() (vectorstore.Spec, error) {
	var spec vectorstore.Spec
	js, err := os.ReadFile(c.path(legacySpec))
	if err != nil {
		return spec, c.errorf("open", err)
	}
	if err := json.Unmarshal(js, &spec); err != nil || !spec.Valid() {
		return spec, c.corrupt(&Damage{File: legacySpec, Offset: -1, Reason: fmt.Sprintf("not a valid spec: %v", err)})
	}
	return spec, nil
}
