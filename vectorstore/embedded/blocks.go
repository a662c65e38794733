package embedded

import (
	"context"
	"encoding/hex"
	"os"

	"github.com/deeprank/deeprank/vectorstore"
)

var _ vectorstore.BlockReader = (*collection)(nil)

// lendRows is how many rows of a segment one block covers: 512 KB of
// vectors at 128 dimensions, enough for a matrix product to run at speed,
// and few pages to release at a time.
const lendRows = 1024

// ReadBlocks lends the live items under the collection's read lock, so
// that no compaction or reload in this process unmaps a segment while fn
// reads it. The log's items come first, then each segment's live rows in
// order. A block of a segment without deleted rows is lent straight from
// the mapping; one with deleted rows is gathered into a buffer. With
// Options.ReleaseScanned, a segment block's pages leave the resident set
// once fn is done with it, as a search's do.
func (c *collection) ReadBlocks(ctx context.Context, fn func(vectorstore.Blocks) error) error {
	return c.view(func(st *state) error {
		return fn(&lentBlocks{st: st, n: st.count(), release: c.store.opts.ReleaseScanned})
	})
}

// lentBlocks is a state's live items as vectorstore.Blocks.
type lentBlocks struct {
	st      *state
	n       int
	release bool
	// ids and vecs are the buffer of gathered blocks: the log's ids
	// decoded, the live rows of a segment block with deleted ones, and
	// the first vectors of items of several.
	ids  []byte
	vecs []float32
}

func (b *lentBlocks) Len() int { return b.n }

func (b *lentBlocks) Each(ctx context.Context, from int, fn func(vectorstore.Block) error) error {
	sh := shapeOf(b.st.man.Spec)
	pos := 0 // position of the next live item
	// visit hands fn the live rows of a run from position from on, if
	// any, and moves pos past the run; it says whether it lent them.
	visit := func(live int, block func(skip int) vectorstore.Block) (bool, error) {
		if live == 0 || pos+live <= from {
			pos += live
			return false, nil
		}
		if err := ctx.Err(); err != nil {
			return false, err
		}
		skip := max(0, from-pos)
		blk := block(skip)
		blk.Start = pos + skip
		pos += live
		return true, fn(blk)
	}
	mem := b.st.mem
	for lo := 0; lo < len(mem.ids); lo += memChunk {
		hi := min(lo+memChunk, len(mem.ids))
		_, err := visit(hi-lo, func(skip int) vectorstore.Block {
			b.ids = b.ids[:0]
			for _, id := range mem.ids[lo+skip : hi] {
				b.ids, _ = hex.AppendDecode(b.ids, []byte(id)) // ids are validated on upsert
			}
			rows := mem.vecs[lo/memChunk][skip*sh.width() : (hi-lo)*sh.width()]
			if sh.per == 1 {
				return vectorstore.Block{IDs: b.ids, Vectors: rows}
			}
			b.vecs = b.vecs[:0]
			for at := 0; at < len(rows); at += sh.width() {
				b.vecs = append(b.vecs, rows[at:at+sh.dim]...)
			}
			return vectorstore.Block{IDs: b.ids, Vectors: b.vecs}
		})
		if err != nil {
			return err
		}
	}
	for _, v := range b.st.segs {
		if pos+v.live <= from {
			pos += v.live
			continue
		}
		for lo := 0; lo < v.n; lo += lendRows {
			hi := min(lo+lendRows, v.n)
			live := hi - lo - v.dead.countRange(lo, hi)
			lent, err := visit(live, func(skip int) vectorstore.Block {
				if live == hi-lo && sh.per == 1 {
					return vectorstore.Block{IDs: v.ids[32*(lo+skip) : 32*hi], Vectors: v.vecs[(lo+skip)*sh.dim : hi*sh.dim]}
				}
				return b.gather(v, lo, hi, skip)
			})
			if b.release && lent {
				v.releaseRows(secVectors, 4*sh.width(), lo, hi)
				v.releaseRows(secIDs, 32, lo, hi)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// gather copies the live rows of rows [lo, hi) of v, after the first skip
// of them, into the buffer: their ids and first vectors.
func (b *lentBlocks) gather(v *segView, lo, hi, skip int) vectorstore.Block {
	b.ids, b.vecs = b.ids[:0], b.vecs[:0]
	for i := lo; i < hi; i++ {
		if v.dead.has(i) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		b.ids = append(b.ids, v.id(i)...)
		b.vecs = append(b.vecs, v.vector(i)[:v.dim]...)
	}
	return vectorstore.Block{IDs: b.ids, Vectors: b.vecs}
}

// releaseRows drops the pages wholly inside rows [lo, hi) of a section of
// size bytes a row from the process's resident set (see release in
// mmap_unix.go).
func (v *segView) releaseRows(sec, size, lo, hi int) {
	base := int(v.secs[sec][0])
	page := os.Getpagesize()
	start := (base + size*lo + page - 1) / page * page
	end := (base + size*hi) / page * page
	if start < end {
		release(v.data[start:end])
	}
}
