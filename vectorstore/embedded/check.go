package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/deeprank/deeprank/vectorstore"
)

// damagedSuffix ends the names of files repair sets aside; nothing ever
// deletes them.
const damagedSuffix = ".damaged"

// CheckReport is what Check found in one collection.
type CheckReport struct {
	Collection string `json:"collection"`
	// Items is the number of live items, when the collection reads.
	Items int `json:"items"`
	// OldFormat is set for a collection that a writer has yet to migrate.
	OldFormat bool `json:"old_format,omitempty"`
	// Uncoded counts the segments written before codes (collection
	// format 4 and older), which search scans in float32, four times the
	// bytes, until a merge or a full compaction rewrites them.
	Uncoded int `json:"uncoded_segments,omitempty"`
	// TornBytes is a write cut short at the end of the log: never
	// acknowledged, harmless; the next writer drops it.
	TornBytes int64 `json:"torn_bytes,omitempty"`
	// Damage lists every place that fails its checks.
	Damage []*Damage `json:"damage,omitempty"`
}

// OK reports whether the collection verified.
func (r *CheckReport) OK() bool { return len(r.Damage) == 0 }

// Check verifies every byte of a collection's files (manifest, every
// section of every segment, masks, every log record) without changing
// anything, so it runs beside a writer. An error means the check itself
// could not run; damage is in the report.
func (s *Store) Check(ctx context.Context, name string) (*CheckReport, error) {
	if !vectorstore.ValidName(name) {
		return nil, invalidName("check", name)
	}
	// A writer replaces the manifest at each flush and each background
	// merge; with small logs that can be often, so the check tries many
	// times, waiting a little longer each time, before it gives up.
	const attempts = 100
	for attempt := 0; ; attempt++ {
		r, manData, err := s.checkOnce(ctx, name)
		if err != nil || r.OK() || manData == nil {
			return r, err
		}
		// Damage, or a file gone: real only if no writer replaced the
		// manifest meanwhile (a compaction deletes the files it replaced).
		now, err := os.ReadFile(filepath.Join(s.path(name), manifestName))
		if err != nil || bytes.Equal(now, manData) {
			return r, nil
		}
		if attempt == attempts {
			return nil, fmt.Errorf("check collection %q: a writer replaced its files %d times while it was checked; try again", name, attempts)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

// checkOnce checks the files one manifest names; it returns the
// manifest's bytes, to tell damage from files a writer replaced meanwhile.
func (s *Store) checkOnce(ctx context.Context, name string) (*CheckReport, []byte, error) {
	r := &CheckReport{Collection: name}
	c := newCollection(s, name, s.path(name), manifestName, false)
	defer c.close()
	data, err := os.ReadFile(c.path(manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil, c.checkLegacy(r)
	}
	if err != nil {
		return nil, nil, c.errorf("check", err)
	}
	man, err := decodeManifest(data)
	if err != nil {
		r.Damage = append(r.Damage, &Damage{File: manifestName, Offset: -1, Reason: err.Error()})
		return r, nil, nil
	}
	for _, ref := range man.Segments {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		r.Damage = append(r.Damage, checkSegment(c.dir, ref, shapeOf(man.Spec))...)
	}
	logData, err := os.ReadFile(c.path(man.Log))
	if err != nil {
		r.Damage = append(r.Damage, &Damage{File: man.Log, Offset: -1, Reason: err.Error()})
		return r, data, nil
	}
	scan := scanLog(man.Log, 0, logData, man.Spec.ItemLen(), func([]entry) {})
	r.TornBytes = scan.torn
	if scan.damage != nil {
		_, _, skipped := salvageLog(logData, man.Spec.ItemLen())
		for _, run := range skipped {
			r.Damage = append(r.Damage, &Damage{File: man.Log, Offset: run[0], Reason: fmt.Sprintf("%d bytes of records that fail their checks", run[1]-run[0])})
		}
		if len(skipped) == 0 { // cannot be, as salvage reads what scan read; never pass it as ok
			r.Damage = append(r.Damage, scan.damage)
		}
	}
	if r.OK() {
		st, err := c.load()
		var d *Damage
		switch {
		case errors.As(err, &d):
			r.Damage = append(r.Damage, d)
		case err != nil:
			return nil, nil, err
		default:
			c.st = st
			r.Items = st.count()
			for _, v := range st.segs {
				if !v.coded() {
					r.Uncoded++
				}
			}
		}
	}
	return r, data, nil
}

// checkSegment verifies a segment and its mask.
func checkSegment(dir string, ref segmentRef, sh shape) []*Damage {
	var out []*Damage
	seg, err := openSegment(dir, ref.File, sh)
	if err == nil {
		err = seg.verifyAll(true)
		seg.close()
	}
	if err != nil {
		out = append(out, asDamage(ref.File, err))
	} else if seg.n != ref.Rows {
		out = append(out, &Damage{File: ref.File, Offset: -1, Reason: fmt.Sprintf("%d rows, the manifest says %d", seg.n, ref.Rows)})
	}
	if d := checkMask(dir, ref); d != nil {
		out = append(out, d)
	}
	return out
}

// checkMask verifies a segment's mask, if it has one, against the
// manifest's count of live rows.
func checkMask(dir string, ref segmentRef) *Damage {
	if ref.Mask == "" {
		return nil
	}
	dead, err := readMask(dir+string(os.PathSeparator)+ref.Mask, ref.Rows)
	if err != nil {
		return asDamage(ref.Mask, err)
	}
	if ref.Rows-dead.count() != ref.Live {
		return &Damage{File: ref.Mask, Offset: -1, Reason: "live rows differ from the manifest's"}
	}
	return nil
}

// rebuildSegment writes a segment whose damage is only in its derived
// sections again, under a new name, from its vectors and the rest, which
// must verify, as must its mask: the rows keep their order, so the mask
// still holds.
func rebuildSegment(dir string, ref segmentRef, sh shape) (string, error) {
	if d := checkMask(dir, ref); d != nil {
		return "", d
	}
	seg, err := openSegment(dir, ref.File, sh)
	if err != nil {
		return "", err
	}
	defer seg.close()
	if err := seg.verifyStored(true); err != nil {
		return "", err
	}
	if seg.n != ref.Rows {
		return "", seg.damage("%d rows, the manifest says %d", seg.n, ref.Rows)
	}
	file := newName("seg-")
	if err := writeSegment(filepath.Join(dir, file), sh, recoded{seg}, nil); err != nil {
		return "", err
	}
	return file, nil
}

// recoded is a segment as a source of rows whose codes are made afresh
// (writeSegment makes the norms afresh from any source).
type recoded struct{ *segment }

func (r recoded) code(i int, codes []int8, quant []float32) ([]int8, []float32) {
	return quantizeRow(r.vector(i), codes, quant)
}

func asDamage(file string, err error) *Damage {
	var d *Damage
	if errors.As(err, &d) {
		return d
	}
	return &Damage{File: file, Offset: -1, Reason: err.Error()}
}

func (c *collection) checkLegacy(r *CheckReport) error {
	spec, err := c.legacySpec()
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			r.Damage = append(r.Damage, asDamage(legacySpec, err))
			return nil
		}
		return err
	}
	r.OldFormat = true
	data, err := os.ReadFile(c.path(legacyLog))
	if err != nil {
		return c.errorf("check", err)
	}
	entries, _, err := legacyEntries(data, spec.ItemLen(), false)
	if err != nil {
		r.Damage = append(r.Damage, asDamage(legacyLog, err))
		return nil
	}
	live := map[string]bool{}
	for _, e := range entries {
		live[e.id] = e.op == opUpsert
	}
	for _, ok := range live {
		if ok {
			r.Items++
		}
	}
	return nil
}

// RepairReport is what Repair kept and lost.
type RepairReport struct {
	Collection string `json:"collection"`
	// Items is the number of live items after the repair.
	Items int `json:"items"`
	// RecordsKept counts the log records (batches) that verified and were
	// kept.
	RecordsKept int `json:"records_kept"`
	// DamagedBytes counts the log bytes that failed their checks and were
	// skipped: the records in them are lost.
	DamagedBytes int64 `json:"damaged_bytes"`
	// RowsLost counts the items of segments that failed their checks.
	RowsLost int `json:"rows_lost"`
	// Rebuilt names the segments whose damage was only in what is made
	// from their vectors (norms, codes), written again whole: nothing of
	// them is lost.
	Rebuilt []string `json:"rebuilt,omitempty"`
	// MovedAside names the damaged files, renamed within the collection's
	// folder with the suffix .damaged and never deleted.
	MovedAside []string `json:"moved_aside,omitempty"`
}

// Repair keeps everything of a collection that verifies: the log records
// that pass their checks go into a new log, a segment damaged only in its
// derived sections (norms, codes) is written again from its vectors, one
// damaged elsewhere is set aside with its rows counted as lost, and the
// damaged files are renamed
// (never deleted) before the new manifest is published. A collection that
// verifies is left as it is. It needs the writer lock.
func (s *Store) Repair(ctx context.Context, name string) (*RepairReport, error) {
	if err := s.writer("repair", name); err != nil {
		return nil, err
	}
	report, err := s.Check(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.open[name]; ok {
		c.close()
		delete(s.open, name)
	}
	r := &RepairReport{Collection: name}
	c := newCollection(s, name, s.path(name), manifestName, true)
	stamp := time.Now().UTC().Format("20060102T150405")
	switch {
	case report.OldFormat:
		if err := c.migrateWith(true); err != nil {
			return nil, err
		}
	case !report.OK():
		if err := c.repairFiles(r, stamp); err != nil {
			return nil, err
		}
	}
	fresh, err := s.openLocked(name)
	if err != nil {
		return nil, err
	}
	fresh.view(func(st *state) error { r.Items = st.count(); return nil })
	return r, nil
}

func (c *collection) repairFiles(r *RepairReport, stamp string) error {
	data, err := os.ReadFile(c.path(manifestName))
	if err != nil {
		return c.errorf("repair", err)
	}
	man, err := decodeManifest(data)
	if err != nil {
		return c.errorf("repair", fmt.Errorf("%w: its manifest %s (%v); restore the collection from a backup or ingest it again", ErrCorrupt, manifestName, err))
	}
	// A damaged file gets a second name, which no cleanup removes, before
	// the manifest stops naming it: at no moment is it only unnamed.
	aside := func(file string) error {
		to := file + "." + stamp + damagedSuffix
		err := os.Link(c.path(file), c.path(to))
		if errors.Is(err, fs.ErrNotExist) {
			return nil // missing, so nothing to keep: it is lost
		}
		if err != nil {
			return c.errorf("repair", err)
		}
		r.MovedAside = append(r.MovedAside, to)
		return nil
	}
	fixed := *man
	fixed.Segments = nil
	for _, ref := range man.Segments {
		if bad := checkSegment(c.dir, ref, shapeOf(man.Spec)); len(bad) > 0 {
			// The rebuilt segment keeps the mask, which must verify.
			if file, err := rebuildSegment(c.dir, ref, shapeOf(man.Spec)); err == nil {
				if err := aside(ref.File); err != nil {
					os.Remove(c.path(file))
					return err
				}
				r.Rebuilt = append(r.Rebuilt, ref.File)
				ref.File, fixed.Format = file, formatCodes
				fixed.Segments = append(fixed.Segments, ref)
				continue
			}
			r.RowsLost += ref.Live
			for _, f := range []string{ref.File, ref.Mask} {
				if f != "" {
					if err := aside(f); err != nil {
						return err
					}
				}
			}
			continue
		}
		fixed.Segments = append(fixed.Segments, ref)
	}
	logData, err := os.ReadFile(c.path(man.Log))
	missingLog := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missingLog {
		return c.errorf("repair", err)
	}
	kept, _, skipped := salvageLog(logData, man.Spec.ItemLen())
	r.RecordsKept = len(kept)
	for _, run := range skipped {
		r.DamagedBytes += run[1] - run[0]
	}
	if len(skipped) > 0 || missingLog {
		var buf []byte
		for _, p := range kept {
			buf = appendRecord(buf, p)
		}
		fixed.Log = newName("log-")
		f, err := createLog(c.path(fixed.Log))
		if err != nil {
			return c.errorf("repair", err)
		}
		_, err = f.Write(buf)
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			os.Remove(c.path(fixed.Log))
			return c.errorf("repair", err)
		}
		if err := aside(man.Log); err != nil {
			return err
		}
	}
	if err := writeManifest(c.dir, manifestName, &fixed); err != nil {
		return c.errorf("repair", err)
	}
	c.removeUnused(man.files(), fixed.files())
	return nil
}
