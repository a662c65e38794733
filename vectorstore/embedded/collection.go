package embedded

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/deeprank/deeprank/model"
	"github.com/deeprank/deeprank/vectorstore"
)

// Log records: uint32 payload length | uint32 CRC-32C of the payload |
// payload. Payload: op byte | 32-byte id | for an upsert, uint32 metadata
// length, metadata JSON, then dim float32 values. Little-endian.
const (
	opUpsert = 1
	opDelete = 2
	headLen  = 8
	// maxRecord bounds a record's declared length, so a damaged length
	// cannot make replay allocate without limit.
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type collection struct {
	name string
	dir  string
	spec vectorstore.Spec

	mu     sync.RWMutex
	log    *os.File
	size   int64 // bytes of valid log
	dead   int   // records in the log that no longer count
	ids    []string
	vecs   []float32 // len(ids) * dim, row i is item i
	meta   []vectorstore.Metadata
	pos    map[string]int
	closed bool
}

var _ vectorstore.Collection = (*collection)(nil)

func loadCollection(name, dir string) (*collection, error) {
	js, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open collection %q: %w", name, vectorstore.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open collection %q: %w", name, err)
	}
	c := &collection{name: name, dir: dir, pos: map[string]int{}}
	if err := json.Unmarshal(js, &c.spec); err != nil || c.spec.Dim < 1 {
		return nil, fmt.Errorf("open collection %q: %w: spec.json: %v", name, ErrCorrupt, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open collection %q: %w", name, err)
	}
	c.log = f
	if err := c.replay(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open collection %q: %w", name, err)
	}
	if c.dead > 1000 && c.dead > len(c.ids) {
		if err := c.compact(); err != nil {
			c.log.Close()
			return nil, fmt.Errorf("open collection %q: compact: %w", name, err)
		}
	}
	return c, nil
}

// replay rebuilds the index from the log, cutting off a torn final record.
func (c *collection) replay() error {
	st, err := c.log.Stat()
	if err != nil {
		return err
	}
	total := st.Size()
	r := bufio.NewReaderSize(c.log, 1<<20)
	var off int64
	head := make([]byte, headLen)
	var payload []byte
	for off < total {
		if _, err := io.ReadFull(r, head); err != nil { // a header cut short: only the end can be torn
			return c.truncateTail(off)
		}
		plen := int64(binary.LittleEndian.Uint32(head))
		sum := binary.LittleEndian.Uint32(head[4:])
		if plen > maxRecord || off+headLen+plen > total {
			return c.truncateTail(off)
		}
		payload = grow(payload, int(plen))
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			if off+headLen+plen == total { // the last record, torn
				return c.truncateTail(off)
			}
			return fmt.Errorf("%w: log record at byte %d fails its checksum", ErrCorrupt, off)
		}
		if err := c.apply(payload); err != nil {
			return fmt.Errorf("%w: log record at byte %d: %v", ErrCorrupt, off, err)
		}
		off += headLen + plen
	}
	c.size = off
	_, err = c.log.Seek(off, io.SeekStart)
	return err
}

// truncateTail drops an unacknowledged torn write at the end of the log.
func (c *collection) truncateTail(off int64) error {
	if err := c.log.Truncate(off); err != nil {
		return err
	}
	if err := c.log.Sync(); err != nil {
		return err
	}
	c.size = off
	_, err := c.log.Seek(off, io.SeekStart)
	return err
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// apply replays one record's payload into memory.
func (c *collection) apply(p []byte) error {
	if len(p) < 33 {
		return errors.New("record too short")
	}
	id := hex.EncodeToString(p[1:33])
	switch p[0] {
	case opDelete:
		if c.remove(id) {
			c.dead++
		}
		c.dead++
		return nil
	case opUpsert:
		p = p[33:]
		if len(p) < 4 {
			return errors.New("upsert too short")
		}
		ml := int(binary.LittleEndian.Uint32(p))
		if len(p) != 4+ml+4*c.spec.Dim {
			return fmt.Errorf("upsert of %d bytes, want %d", len(p), 4+ml+4*c.spec.Dim)
		}
		var m vectorstore.Metadata
		if err := json.Unmarshal(p[4:4+ml], &m); err != nil {
			return err
		}
		vec := make([]float32, c.spec.Dim)
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4+ml+4*i:]))
		}
		if c.put(vectorstore.Item{ID: id, Vector: vec, Metadata: m}) {
			c.dead++
		}
		return nil
	}
	return fmt.Errorf("unknown op %d", p[0])
}

// put stores an item in memory; it reports whether it replaced one.
func (c *collection) put(it vectorstore.Item) bool {
	if i, ok := c.pos[it.ID]; ok {
		copy(c.vecs[i*c.spec.Dim:], it.Vector)
		c.meta[i] = it.Metadata
		return true
	}
	c.pos[it.ID] = len(c.ids)
	c.ids = append(c.ids, it.ID)
	c.vecs = append(c.vecs, it.Vector...)
	c.meta = append(c.meta, it.Metadata)
	return false
}

// remove deletes an item from memory by moving the last one into its slot.
func (c *collection) remove(id string) bool {
	i, ok := c.pos[id]
	if !ok {
		return false
	}
	last := len(c.ids) - 1
	d := c.spec.Dim
	if i != last {
		c.ids[i] = c.ids[last]
		c.meta[i] = c.meta[last]
		copy(c.vecs[i*d:(i+1)*d], c.vecs[last*d:])
		c.pos[c.ids[i]] = i
	}
	c.ids = c.ids[:last]
	c.meta = c.meta[:last]
	c.vecs = c.vecs[:last*d]
	delete(c.pos, id)
	return true
}

func encodeRecord(buf []byte, op byte, id string, it *vectorstore.Item) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, headLen)...)
	buf = append(buf, op)
	raw, _ := hex.DecodeString(id) // ids are validated before
	buf = append(buf, raw...)
	if it != nil {
		js, _ := json.Marshal(it.Metadata)
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(js)))
		buf = append(buf, js...)
		for _, v := range it.Vector {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	payload := buf[start+headLen:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}

// write appends records and fsyncs; on failure it cuts the log back so no
// partial batch stays behind.
func (c *collection) write(buf []byte) error {
	if c.closed {
		return errors.New("collection is closed")
	}
	if _, err := c.log.Write(buf); err != nil {
		c.rollback()
		return err
	}
	if err := c.log.Sync(); err != nil {
		c.rollback()
		return err
	}
	c.size += int64(len(buf))
	return nil
}

func (c *collection) rollback() {
	c.log.Truncate(c.size)
	c.log.Seek(c.size, io.SeekStart)
}

func (c *collection) Info(ctx context.Context) (vectorstore.Info, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return vectorstore.Info{Name: c.name, Spec: c.spec, Count: len(c.ids)}, nil
}

func (c *collection) checkModel(op, version string, dim int) error {
	if version != c.spec.ModelVersion || dim != c.spec.Dim {
		return fmt.Errorf("%s in %q: vectors of model %s (dim %d), the collection holds model %s (dim %d): %w",
			op, c.name, version, dim, c.spec.ModelVersion, c.spec.Dim, vectorstore.ErrModelMismatch)
	}
	return nil
}

func (c *collection) Upsert(ctx context.Context, version string, items []vectorstore.Item) error {
	var buf []byte
	for _, it := range items {
		if err := c.checkModel("upsert", version, len(it.Vector)); err != nil {
			return err
		}
		if !vectorstore.ValidID(it.ID) {
			return fmt.Errorf("upsert in %q: %w: id %q is not a hex SHA-256", c.name, vectorstore.ErrInvalid, it.ID)
		}
		buf = encodeRecord(buf, opUpsert, it.ID, &it)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.write(buf); err != nil {
		return fmt.Errorf("upsert in %q: %w", c.name, err)
	}
	for _, it := range items {
		if c.put(vectorstore.Item{ID: it.ID, Vector: append([]float32(nil), it.Vector...), Metadata: it.Metadata}) {
			c.dead++
		}
	}
	return nil
}

func (c *collection) Delete(ctx context.Context, ids []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var buf []byte
	for _, id := range ids {
		if _, ok := c.pos[id]; ok {
			buf = encodeRecord(buf, opDelete, id, nil)
		}
	}
	if len(buf) == 0 {
		return nil
	}
	if err := c.write(buf); err != nil {
		return fmt.Errorf("delete in %q: %w", c.name, err)
	}
	for _, id := range ids {
		if c.remove(id) {
			c.dead += 2
		}
	}
	return nil
}

func (c *collection) Get(ctx context.Context, ids []string) ([]vectorstore.Item, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []vectorstore.Item
	for _, id := range ids {
		if i, ok := c.pos[id]; ok {
			out = append(out, c.item(i))
		}
	}
	return out, nil
}

func (c *collection) item(i int) vectorstore.Item {
	d := c.spec.Dim
	return vectorstore.Item{ID: c.ids[i], Vector: append([]float32(nil), c.vecs[i*d:(i+1)*d]...), Metadata: c.meta[i]}
}

func (c *collection) Count(ctx context.Context) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.ids), nil
}

func (c *collection) Scan(ctx context.Context, fn func(vectorstore.Item) error) error {
	const chunk = 1024
	// Copy chunks under the lock and call fn without it, so fn may write.
	c.mu.RLock()
	ids := append([]string(nil), c.ids...)
	c.mu.RUnlock()
	for lo := 0; lo < len(ids); lo += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		items, _ := c.Get(ctx, ids[lo:min(lo+chunk, len(ids))])
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *collection) Search(ctx context.Context, version string, q []float32, k int, filter *vectorstore.Filter) ([]vectorstore.Hit, error) {
	if err := c.checkModel("search", version, len(q)); err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("search in %q: %w: k = %d", c.name, vectorstore.ErrInvalid, k)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.ids)
	parts := 1
	if n >= 20000 {
		parts = runtime.GOMAXPROCS(0)
	}
	results := make([]hitHeap, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[p] = c.topK(q, k, filter, p*n/parts, (p+1)*n/parts)
		}()
	}
	wg.Wait()
	var all hitHeap
	for _, r := range results {
		all = append(all, r...)
	}
	// Nearest first; ties by position, for stable results.
	slices.SortFunc(all, func(a, b hit) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.idx, b.idx)) })
	if len(all) > k {
		all = all[:k]
	}
	out := make([]vectorstore.Hit, len(all))
	for i, h := range all {
		out[i] = vectorstore.Hit{ID: c.ids[h.idx], Metadata: c.meta[h.idx], Distance: c.finish(h.d)}
	}
	return out, nil
}

// score is a distance proxy that ranks like the metric: squared L2, or the
// negated dot product (cosine also divides by the norms).
func (c *collection) score(q []float32, qnorm float32, i int) float32 {
	v := c.vecs[i*c.spec.Dim : (i+1)*c.spec.Dim]
	switch c.spec.Metric {
	case vectorstore.MetricL2:
		return sqDist(q, v)
	case vectorstore.MetricCosine:
		var dot, vv float32
		for j, x := range q {
			dot += x * v[j]
			vv += v[j] * v[j]
		}
		if vv == 0 || qnorm == 0 {
			return 1
		}
		return 1 - dot/(qnorm*float32(math.Sqrt(float64(vv))))
	default:
		var dot float32
		for j, x := range q {
			dot += x * v[j]
		}
		return -dot
	}
}

func sqDist(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		d := x - b[i]
		s += d * d
	}
	return s
}

// finish turns a score into the reported distance.
func (c *collection) finish(s float32) float32 {
	if c.spec.Metric == vectorstore.MetricL2 {
		return float32(math.Sqrt(float64(s)))
	}
	return s
}

type hit struct {
	d   float32
	idx int
}

// hitHeap is a max-heap on distance: the worst of the best k on top.
type hitHeap []hit

func (h hitHeap) Len() int { return len(h) }
func (h hitHeap) Less(i, j int) bool {
	if h[i].d != h[j].d {
		return h[i].d > h[j].d
	}
	return h[i].idx > h[j].idx
}
func (h hitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)   { *h = append(*h, x.(hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (c *collection) topK(q []float32, k int, filter *vectorstore.Filter, lo, hi int) hitHeap {
	var qn float32
	for _, x := range q {
		qn += x * x
	}
	qn = float32(math.Sqrt(float64(qn)))
	h := make(hitHeap, 0, k+1)
	for i := lo; i < hi; i++ {
		if !filter.Match(c.meta[i]) {
			continue
		}
		d := c.score(q, qn, i)
		if len(h) < k {
			heap.Push(&h, hit{d, i})
		} else if d < h[0].d {
			h[0] = hit{d, i}
			heap.Fix(&h, 0)
		}
	}
	return h
}

// compact rewrites the log with only the live items.
func (c *collection) compact() error {
	var buf []byte
	for i := range c.ids {
		it := c.item(i)
		buf = encodeRecord(buf, opUpsert, it.ID, &it)
	}
	path := filepath.Join(c.dir, "log")
	if err := model.WriteFileAtomic(path, buf); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return err
	}
	c.log.Close()
	c.log, c.size, c.dead = f, int64(len(buf)), 0
	return nil
}

func (c *collection) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.log.Close()
}
