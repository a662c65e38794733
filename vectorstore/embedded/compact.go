package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"slices"
	"sync/atomic"
)

// A writer compacts in two ways. A flush, in the writer's own goroutine
// when the log passes its threshold, writes the memtable into a new
// segment and starts an empty log. A merge, in the background, rewrites a
// tier's segments into one, so that the writer goes on taking upserts
// while it runs. `deeprank compact` and a rebuild do both at once, into
// one segment.
//
// Segments are merged in tiers: a segment's tier is the base-8 logarithm
// of its live rows (in units of 1,024), and once 8 segments of a tier pile
// up, they merge into one of the next. An item is so rewritten about
// log8(n) times: an ingest is bound by what it writes (at a million items,
// fanout 8 took upserts from about 0.9x to about 1.0x the old format's),
// while a search, bound by memory bandwidth, hardly notices a few more
// segments, and a look-up asks each one's Bloom filter first.
const (
	mergeFanout = 8
	tierUnit    = 1024
	// maxSegments bounds the segments a collection piles up while a merge
	// runs behind a fast writer: past it, a flush waits for the merge.
	maxSegments = 32
)

func tier(rows int) int {
	t := 0
	for r := rows / tierUnit; r >= mergeFanout; r /= mergeFanout {
		t++
	}
	return t
}

// run is a source of rows sorted by id, with the rows to leave out.
type run struct {
	src  rowSource
	dead bitset // nil: every row is live
}

// merged is the live rows of several runs, in id order.
type merged struct {
	refs []rowRef
}

type rowRef struct {
	src rowSource
	i   int
}

// mergeRuns merges runs, each sorted by id and none holding an id another
// holds live, into one sorted source. There are few runs (a tier's
// segments, or every segment of a full compaction): each step picks the
// smallest head by comparing them all.
func mergeRuns(runs []run) *merged {
	total := 0
	for _, r := range runs {
		total += r.src.rows()
	}
	m := &merged{refs: make([]rowRef, 0, total)}
	heads := make([]int, len(runs))
	next := func(k int) {
		for heads[k] < runs[k].src.rows() && runs[k].dead != nil && runs[k].dead.has(heads[k]) {
			heads[k]++
		}
	}
	for k := range runs {
		next(k)
	}
	for {
		best := -1
		for k, r := range runs {
			if heads[k] < r.src.rows() && (best < 0 || bytes.Compare(r.src.id(heads[k]), runs[best].src.id(heads[best])) < 0) {
				best = k
			}
		}
		if best < 0 {
			return m
		}
		m.refs = append(m.refs, rowRef{runs[best].src, heads[best]})
		heads[best]++
		next(best)
	}
}

func (m *merged) rows() int              { return len(m.refs) }
func (m *merged) id(i int) []byte        { return m.refs[i].src.id(m.refs[i].i) }
func (m *merged) vector(i int) []float32 { return m.refs[i].src.vector(m.refs[i].i) }
func (m *merged) class(i int) string     { return m.refs[i].src.class(m.refs[i].i) }
func (m *merged) path(i int) string      { return m.refs[i].src.path(m.refs[i].i) }
func (m *merged) metaJSON(i int) []byte  { return m.refs[i].src.metaJSON(m.refs[i].i) }
func (m *merged) code(i int, codes []int8, quant []float32) ([]int8, []float32) {
	return m.refs[i].src.code(m.refs[i].i, codes, quant)
}

// flush compacts the log once it has passed the threshold, first waiting
// for a running merge if segments have piled up behind it. The caller
// holds c.mu (which the wait gives up for a while: another batch may come
// in, or flush, meanwhile).
func (c *collection) flush() error {
	for c.merging != nil && len(c.st.segs) >= maxSegments {
		c.mergeDone.Wait()
		if err := c.usable("compact"); err != nil {
			return err
		}
	}
	if c.st.logEnd < c.store.opts.CompactLogBytes {
		return nil
	}
	if err := c.compactLocked(false); err != nil {
		return err
	}
	c.startMerge()
	return nil
}

// compactLocked moves the log into a new segment, and with full merges
// every segment into it too (stopping a background merge first); persists
// the masks the log changed; and starts an empty log. The new set of files
// is published by replacing the manifest: a crash before leaves the old
// set, after the new one; files no manifest names are removed by the next
// writer. The caller holds c.mu.
func (c *collection) compactLocked(full bool) error {
	if full {
		c.haltMerge()
	}
	st := c.st
	runs := []run{{src: newSortedMem(st.mem)}}
	keep := st.segs
	if full {
		for _, v := range st.segs {
			if err := v.verifyAll(false); err != nil {
				return c.corrupt(err)
			}
			runs = append(runs, run{v.segment, v.dead})
		}
		keep = nil
	}
	src := mergeRuns(runs)

	man := *st.man
	man.Format, man.Segments = formatCodes, nil
	var created []string
	fail := func(err error) error {
		removeFiles(c, created)
		return err
	}
	for _, v := range keep {
		ref := v.ref
		if ref.Live != v.live { // the log killed rows of it: a new mask
			ref.Mask, ref.Live = newName("mask-"), v.live
			if err := writeMask(c.path(ref.Mask), v.n, v.dead); err != nil {
				return fail(err)
			}
			created = append(created, ref.Mask)
		}
		man.Segments = append(man.Segments, ref)
	}
	if n := src.rows(); n > 0 {
		ref := segmentRef{File: newName("seg-"), Rows: n, Live: n}
		if err := writeSegment(c.path(ref.File), shapeOf(man.Spec), src, nil); err != nil {
			return fail(err)
		}
		created = append(created, ref.File)
		man.Segments = append(man.Segments, ref)
	}
	man.Log = newName("log-")
	log, err := createLog(c.path(man.Log))
	if err != nil {
		return fail(err)
	}
	created = append(created, man.Log)
	if err := c.publish(&man, created); err != nil {
		log.Close()
		return err
	}
	old := st.man.files()
	fresh, err := c.loadWith(&man, log)
	if err != nil {
		c.broken = fmt.Errorf("compact collection %q: reading the new segments: %w; close the store and open it again", c.name, err)
		return c.broken
	}
	c.swap(fresh)
	c.removeUnused(old, man.files())
	return nil
}

// publish replaces the manifest with man, whose new files are created. On
// failure the new files are removed, unless the manifest was renamed in
// and a later step (the folder's fsync) failed: they are the collection's
// then, and this process's state is in doubt.
func (c *collection) publish(man *manifest, created []string) error {
	err := writeManifest(c.dir, c.mname, man)
	if err == nil {
		return nil
	}
	if !c.published(man) {
		removeFiles(c, created)
		return err
	}
	c.broken = fmt.Errorf("compact collection %q: %w; close the store and open it again", c.name, err)
	return c.broken
}

// published reports whether the manifest on disk is man.
func (c *collection) published(man *manifest) bool {
	data, err := os.ReadFile(c.path(c.mname))
	if err != nil {
		return false
	}
	now, err := decodeManifest(data)
	return err == nil && now.Log == man.Log && slices.Equal(now.Segments, man.Segments)
}

func removeFiles(c *collection, files []string) {
	for _, f := range files {
		os.Remove(c.path(f))
	}
}

// mergeJob is a merge of segments running in the background. It reads
// the sources' mapped files with no lock held (segments never change), so
// whatever unmaps them (a full compaction, closing) first halts it.
type mergeJob struct {
	srcs []*segView
	dead []bitset // each source's dead rows when the merge started
	file string   // the new segment's
	stop atomic.Bool
	read chan struct{} // closed once the job reads the sources no more
}

// startMerge starts merging the segments of the lowest tier that holds
// mergeFanout of them, unless a merge runs already. The caller holds c.mu.
func (c *collection) startMerge() {
	if c.merging != nil {
		return
	}
	byTier := map[int][]*segView{}
	low := -1
	for _, v := range c.st.segs {
		t := tier(v.live)
		byTier[t] = append(byTier[t], v)
		if len(byTier[t]) >= mergeFanout && (low < 0 || t < low) {
			low = t
		}
	}
	if low < 0 {
		return
	}
	j := &mergeJob{srcs: byTier[low], file: newName("seg-"), read: make(chan struct{})}
	for _, v := range j.srcs {
		j.dead = append(j.dead, v.dead.clone())
	}
	c.merging = j
	go c.runMerge(j)
}

// haltMerge stops the running merge, if any, and waits until it reads the
// sources no more; it publishes nothing then. The caller holds c.mu.
func (c *collection) haltMerge() {
	j := c.merging
	if j == nil {
		return
	}
	c.merging = nil
	j.stop.Store(true)
	<-j.read
	os.Remove(c.path(j.file))
	c.mergeDone.Broadcast()
}

func (c *collection) runMerge(j *mergeJob) {
	err := c.writeMerge(j)
	close(j.read)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.merging != j { // halted
		return
	}
	c.merging = nil
	defer c.mergeDone.Broadcast()
	if err != nil {
		os.Remove(c.path(j.file))
	} else if err = c.publishMerge(j); err == nil {
		c.startMerge() // the new segment may make a tier full in turn
		return
	}
	switch {
	case errors.Is(err, ErrCorrupt):
		c.broken = err
	case c.broken == nil:
		// Disk full, say: the segments stay as they are, and the next
		// flush tries again.
		c.store.logf("collection %q: merging segments: %v (they stay as they are)", c.name, err)
	}
}

// writeMerge writes the merged segment's file.
func (c *collection) writeMerge(j *mergeJob) error {
	runs := make([]run, len(j.srcs))
	for i, v := range j.srcs {
		if err := v.verifyAll(false); err != nil {
			return c.corrupt(err)
		}
		runs[i] = run{v.segment, j.dead[i]}
	}
	return writeSegment(c.path(j.file), j.srcs[0].shape, mergeRuns(runs), j.stop.Load)
}

// publishMerge replaces the merge's sources by its segment in the
// manifest. Rows the log killed in the sources while it ran are killed in
// the new segment: its mask, persisted with it, carries them. The log and
// the memtable stay as they are. The caller holds c.mu.
func (c *collection) publishMerge(j *mergeJob) error {
	st := c.st
	discard := func(err error) error {
		if s, ok := c.mapped[j.file]; ok {
			s.close()
			delete(c.mapped, j.file)
		}
		os.Remove(c.path(j.file))
		return err
	}
	cur := make([]*segView, len(j.srcs))
	for i, s := range j.srcs {
		for _, v := range st.segs {
			if v.segment == s.segment {
				cur[i] = v
			}
		}
		if cur[i] == nil { // only a full compaction replaces them, and it halts the merge first
			return discard(fmt.Errorf("segment %s is gone", s.file))
		}
	}
	seg, err := c.segment(j.file, shapeOf(st.man.Spec))
	if err != nil {
		return discard(err)
	}
	dead := newBitset(seg.n)
	for i, v := range cur {
		for w, word := range v.dead {
			for fresh := word &^ j.dead[i][w]; fresh != 0; fresh &= fresh - 1 {
				if row := seg.find(v.id(w*64 + bits.TrailingZeros64(fresh))); row >= 0 {
					dead.set(row)
				}
			}
		}
	}
	ref := segmentRef{File: j.file, Rows: seg.n, Live: seg.n - dead.count()}
	var created []string
	if ref.Live != ref.Rows {
		ref.Mask = newName("mask-")
		if err := writeMask(c.path(ref.Mask), seg.n, dead); err != nil {
			return discard(err)
		}
		created = append(created, ref.Mask)
	}
	mv := &segView{segment: seg, ref: ref, dead: dead, live: ref.Live}

	man := *st.man
	man.Format, man.Segments = formatCodes, nil
	var segs []*segView
	for _, v := range st.segs {
		switch {
		case !slices.Contains(cur, v):
			man.Segments = append(man.Segments, v.ref)
			segs = append(segs, v)
		case v == cur[0]: // the merged segment takes the first source's place
			man.Segments = append(man.Segments, ref)
			segs = append(segs, mv)
		}
	}
	if err := c.publish(&man, append(created, j.file)); err != nil {
		return err
	}
	fresh, err := c.newState(&man, segs, st.mem, st.log)
	if err != nil {
		c.broken = fmt.Errorf("merge segments of collection %q: %w; close the store and open it again", c.name, err)
		return c.broken
	}
	fresh.logEnd, fresh.torn = st.logEnd, st.torn
	old := st.man.files()
	c.swap(fresh)
	c.removeUnused(old, man.files())
	return nil
}
