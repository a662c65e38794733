package embedded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"slices"
	"sync"
	"unsafe"

	"github.com/deeprank/deeprank/vectorstore"
)

// A segment is an immutable file of items sorted by id, written once by a
// compaction and then only read, through mmap, by every process. Its header
// is
//
//	magic "DRSEG003" | uint32 width | uint32 section count | uint64 rows |
//	per section: uint64 offset, uint64 length, uint32 CRC-32C, 4 zero bytes |
//	uint32 CRC-32C of the header before it
//
// padded to segHead bytes, and its sections, each starting on a 64-byte
// boundary, are the columns below. Vectors and norms are float32, offsets
// uint64, class numbers uint32, all little-endian; ids are raw 32-byte
// SHA-256s in ascending order, which makes the id column its own index.
// A row's width is its item's vectors one after another (the shape): a
// row has a norm for each of them. The manifest's spec gives the shape,
// which the width and the norms' length are checked against. Each vector
// also has an int8 code, a scale and a residual's norm (quant.go), which
// search scans in place of the float32 values.
//
// A segment of "DRSEG002", written before the codes, has the first nine
// sections only; it is read, and searched by its float32 values, until a
// merge or `deeprank compact` rewrites it.
const (
	segMagic   = "DRSEG003"
	segMagicV2 = "DRSEG002"
	segHead    = 512
)

// Sections of a segment, in file order.
const (
	secVectors    = iota // rows x width float32
	secNorms             // rows x vectors a row float32: each vector's length
	secIDs               // rows x 32 bytes, ascending
	secClasses           // rows uint32: index into the class table
	secClassTable        // JSON array of the distinct classes
	secPathOffs          // rows+1 uint64 into the path bytes
	secPaths             // the paths, concatenated
	secMetaOffs          // rows+1 uint64 into the metadata bytes
	secMetas             // each row's metadata JSON, concatenated
	secCodes             // rows x width int8: each vector's code
	secQuant             // rows x vectors a row x 2 float32: scale, residual norm
	numSections
)

// sectionsV2 is the number of sections of a DRSEG002 segment.
const sectionsV2 = secCodes

// Sections verified on every open: those the code indexes with, so that
// damage in them cannot send a read out of bounds, and the ids, which every
// look-up, upsert and delete trusts to find an item. The others (vectors,
// norms, paths, metadata: nearly nine tenths of the bytes) are verified by
// check, repair and compaction, which read them whole, so that open stays
// in milliseconds at a million items.
var verifiedOnOpen = []int{secIDs, secClasses, secClassTable, secPathOffs, secMetaOffs}

var sectionNames = [numSections]string{"vectors", "norms", "ids", "classes", "class table", "path offsets", "paths", "metadata offsets", "metadata", "codes", "code scales"}

// shape is how a collection lays out an item's vectors in a row.
type shape struct {
	dim int // values a vector
	per int // vectors a row
}

func shapeOf(spec vectorstore.Spec) shape { return shape{dim: spec.Dim, per: spec.PerItem()} }

// width is the number of values a row holds.
func (sh shape) width() int { return sh.dim * sh.per }

// rowSource is a sorted run of items to write into a segment.
type rowSource interface {
	rows() int
	id(i int) []byte        // raw 32 bytes
	vector(i int) []float32 // the row's width
	class(i int) string
	path(i int) string
	metaJSON(i int) []byte
	// code is the row's codes and their scales and residuals (two values
	// a vector): a segment's own, or made into the buffers given.
	code(i int, codes []int8, quant []float32) ([]int8, []float32)
}

// quantizeRow codes each of a row's vectors into codes (as long as the
// row), and their scales and residuals into quant (two values a vector).
func quantizeRow(row []float32, codes []int8, quant []float32) ([]int8, []float32) {
	dim := len(row) / (len(quant) / 2)
	for j := range len(quant) / 2 {
		quant[2*j], quant[2*j+1] = quantize(row[j*dim:(j+1)*dim], codes[j*dim:(j+1)*dim])
	}
	return codes, quant
}

// errStopped is what writeSegment returns when told to stop.
var errStopped = errors.New("stopped")

// writeSegment writes src into a new file at path and fsyncs it. A
// non-nil stop is asked between chunks whether to give up (the file is
// then removed).
func writeSegment(path string, sh shape, src rowSource, stop func() bool) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	n := src.rows()
	classIdx := map[string]uint32{}
	var classes []string
	for i := range n {
		c := src.class(i)
		if _, ok := classIdx[c]; !ok {
			classIdx[c] = uint32(len(classes))
			classes = append(classes, c)
		}
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var table [numSections][3]uint64 // offset, length, crc
	off := uint64(segHead)
	if _, err := w.Write(make([]byte, segHead)); err != nil {
		return err
	}
	var scratch []byte
	chunk := make([]byte, 0, 1<<18+4096)
	section := func(s int, fill func(emit func([]byte))) error {
		if pad := (64 - off%64) % 64; pad > 0 {
			if _, err := w.Write(make([]byte, pad)); err != nil {
				return err
			}
			off += pad
		}
		// Columns come a few bytes at a time: gather them into chunks,
		// so that the checksum and the writer see large slices.
		start, sum := off, uint32(0)
		var werr error
		flush := func() {
			if werr == nil && stop != nil && stop() {
				werr = errStopped
			}
			if werr == nil && len(chunk) > 0 {
				sum = crc32.Update(sum, castagnoli, chunk)
				_, werr = w.Write(chunk)
			}
			chunk = chunk[:0]
		}
		fill(func(b []byte) {
			chunk = append(chunk, b...)
			off += uint64(len(b))
			if len(chunk) >= 1<<18 {
				flush()
			}
		})
		flush()
		table[s] = [3]uint64{start, off - start, uint64(sum)}
		return werr
	}
	// A merge copies its segments' codes; the log's rows are coded here,
	// once for each of the two sections (a log is small).
	codeBuf, quantBuf := make([]int8, sh.width()), make([]float32, 2*sh.per)
	u32 := func(v uint32) []byte { scratch = binary.LittleEndian.AppendUint32(scratch[:0], v); return scratch }
	steps := []func(emit func([]byte)){
		secVectors: func(emit func([]byte)) {
			for i := range n {
				emit(floatBytes(src.vector(i)))
			}
		},
		secNorms: func(emit func([]byte)) {
			for i := range n {
				row := src.vector(i)
				for j := range sh.per {
					v := row[j*sh.dim : (j+1)*sh.dim]
					emit(u32(math.Float32bits(float32(math.Sqrt(float64(dot(v, v)))))))
				}
			}
		},
		secIDs: func(emit func([]byte)) {
			for i := range n {
				emit(src.id(i))
			}
		},
		secClasses: func(emit func([]byte)) {
			for i := range n {
				emit(u32(classIdx[src.class(i)]))
			}
		},
		secClassTable: func(emit func([]byte)) {
			js, _ := json.Marshal(classes)
			emit(js)
		},
		secPathOffs: func(emit func([]byte)) { offsets(n, func(i int) int { return len(src.path(i)) }, emit) },
		secPaths: func(emit func([]byte)) {
			for i := range n {
				emit([]byte(src.path(i)))
			}
		},
		secMetaOffs: func(emit func([]byte)) { offsets(n, func(i int) int { return len(src.metaJSON(i)) }, emit) },
		secMetas: func(emit func([]byte)) {
			for i := range n {
				emit(src.metaJSON(i))
			}
		},
		secCodes: func(emit func([]byte)) {
			for i := range n {
				codes, _ := src.code(i, codeBuf, quantBuf)
				emit(int8Bytes(codes))
			}
		},
		secQuant: func(emit func([]byte)) {
			for i := range n {
				_, quant := src.code(i, codeBuf, quantBuf)
				emit(floatBytes(quant))
			}
		},
	}
	for s, fill := range steps {
		if err := section(s, fill); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	head := append([]byte(nil), segMagic...)
	head = binary.LittleEndian.AppendUint32(head, uint32(sh.width()))
	head = binary.LittleEndian.AppendUint32(head, numSections)
	head = binary.LittleEndian.AppendUint64(head, uint64(n))
	for _, t := range table {
		head = binary.LittleEndian.AppendUint64(head, t[0])
		head = binary.LittleEndian.AppendUint64(head, t[1])
		head = binary.LittleEndian.AppendUint32(head, uint32(t[2]))
		head = binary.LittleEndian.AppendUint32(head, 0)
	}
	head = binary.LittleEndian.AppendUint32(head, crc(head))
	if _, err := f.WriteAt(head, 0); err != nil {
		return err
	}
	return f.Sync()
}

// offsets emits the n+1 uint64 offsets of n byte strings of the given
// lengths laid end to end.
func offsets(n int, length func(int) int, emit func([]byte)) {
	var at uint64
	emit(binary.LittleEndian.AppendUint64(nil, 0))
	for i := range n {
		at += uint64(length(i))
		emit(binary.LittleEndian.AppendUint64(nil, at))
	}
}

// floatBytes views float32s as their bytes: little-endian, since Open
// refuses big-endian machines.
func floatBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// int8Bytes views int8s as bytes.
func int8Bytes(v []int8) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v))
}

// segment is an open, mapped segment file.
type segment struct {
	file  string // name within the collection folder
	data  []byte // the whole file, mapped read-only
	unmap func() error
	shape
	n         int
	nSections int // numSections, or sectionsV2
	vecs      []float32
	norms     []float32
	codes     []int8    // nil in a DRSEG002 segment
	quant     []float32 // scale and residual norm a vector; nil in DRSEG002
	ids       []byte
	classes   []uint32
	table     []string
	pathOff   []uint64
	paths     []byte
	metaOff   []uint64
	metas     []byte
	secs      [numSections][3]uint64
	// prefix holds each id's first 8 bytes as a big-endian number, in
	// memory: a look-up searches it rather than the mapped ids, whose
	// pages a binary search would touch at random (every upsert looks up
	// its id in every segment). Made on the first look-up, so that a
	// query, which makes none, does not pay for it.
	prefix []uint64
	// bloom is a blocked Bloom filter of the ids (16 bits a row, 4 of them
	// set in one word per id): most look-ups are of ids a segment does not
	// hold (an ingest's new images, asked of every segment), and one word
	// answers those where the binary search reads twenty.
	bloom      []uint64
	prefixOnce sync.Once
}

// openSegment maps a segment file and checks its header and its small
// sections.
func openSegment(dir, file string, sh shape) (*segment, error) {
	data, unmap, err := mapFile(dir + string(os.PathSeparator) + file)
	if err != nil {
		return nil, err
	}
	s := &segment{file: file, data: data, unmap: unmap}
	if err := s.parse(sh); err != nil {
		unmap()
		return nil, err
	}
	for _, sec := range verifiedOnOpen {
		if err := s.verify(sec); err != nil {
			unmap()
			return nil, err
		}
	}
	return s, nil
}

func (s *segment) damage(format string, args ...any) error {
	return &Damage{File: s.file, Offset: -1, Reason: fmt.Sprintf(format, args...)}
}

func (s *segment) parse(sh shape) error {
	d := s.data
	if len(d) < segHead {
		return s.damage("not a segment file (%d bytes)", len(d))
	}
	switch string(d[:8]) {
	case segMagic:
		s.nSections = numSections
	case segMagicV2:
		s.nSections = sectionsV2
	default:
		return s.damage("not a segment file (bad magic)")
	}
	hl := 8 + 4 + 4 + 8 + s.nSections*24
	if crc(d[:hl]) != binary.LittleEndian.Uint32(d[hl:]) {
		return s.damage("header fails its checksum")
	}
	if width := int(binary.LittleEndian.Uint32(d[8:])); width != sh.width() || binary.LittleEndian.Uint32(d[12:]) != uint32(s.nSections) {
		return s.damage("header says %d values a row, %d sections; the collection has %d (dim %d, %d vectors an item)", width, binary.LittleEndian.Uint32(d[12:]), sh.width(), sh.dim, sh.per)
	}
	s.shape = sh
	rows := binary.LittleEndian.Uint64(d[16:])
	if rows > uint64(len(d))/32 {
		return s.damage("header says %d rows", rows)
	}
	s.n = int(rows)
	want := [numSections]uint64{
		secVectors: rows * uint64(sh.width()) * 4, secNorms: rows * uint64(sh.per) * 4, secIDs: rows * 32, secClasses: rows * 4,
		secPathOffs: (rows + 1) * 8, secMetaOffs: (rows + 1) * 8,
		secCodes: rows * uint64(sh.width()), secQuant: rows * uint64(sh.per) * 8,
	}
	for i := range s.nSections {
		p := d[24+24*i:]
		off, n := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:])
		if off%64 != 0 || off > uint64(len(d)) || n > uint64(len(d))-off {
			return s.damage("section %s out of the file", sectionNames[i])
		}
		if want[i] != 0 && n != want[i] || want[i] == 0 && i != secClassTable && i != secPaths && i != secMetas && n != 0 {
			return s.damage("section %s is %d bytes, want %d", sectionNames[i], n, want[i])
		}
		s.secs[i] = [3]uint64{off, n, uint64(binary.LittleEndian.Uint32(p[16:]))}
	}
	sec := func(i int) []byte { return d[s.secs[i][0] : s.secs[i][0]+s.secs[i][1]] }
	s.vecs = floats(sec(secVectors))
	s.norms = floats(sec(secNorms))
	s.ids = sec(secIDs)
	s.classes = uint32s(sec(secClasses))
	s.pathOff = uint64s(sec(secPathOffs))
	s.paths = sec(secPaths)
	s.metaOff = uint64s(sec(secMetaOffs))
	s.metas = sec(secMetas)
	if s.nSections == numSections {
		s.codes = int8s(sec(secCodes))
		s.quant = floats(sec(secQuant))
	}
	return nil
}

// verify checks one section's checksum, and what the rest of the code
// relies on in it: offsets that rise within their bytes, class numbers
// within the table, ids in ascending order.
func (s *segment) verify(sec int) error {
	off, n, sum := s.secs[sec][0], s.secs[sec][1], uint32(s.secs[sec][2])
	if crc(s.data[off:off+n]) != sum {
		return s.damage("section %s fails its checksum", sectionNames[sec])
	}
	switch sec {
	case secClassTable:
		// Decoded afresh, and kept only the first time: a background merge
		// verifies a segment that searches are reading.
		var table []string
		if err := json.Unmarshal(s.data[off:off+n], &table); err != nil {
			return s.damage("class table: %v", err)
		}
		if s.table == nil {
			s.table = table
		}
		for _, c := range s.classes {
			if int(c) >= len(table) {
				return s.damage("class number %d outside the table", c)
			}
		}
	case secPathOffs, secMetaOffs:
		offs, limit := s.pathOff, uint64(len(s.paths))
		if sec == secMetaOffs {
			offs, limit = s.metaOff, uint64(len(s.metas))
		}
		if offs[0] != 0 || offs[len(offs)-1] != limit {
			return s.damage("section %s does not span its bytes", sectionNames[sec])
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] < offs[i-1] {
				return s.damage("section %s falls at row %d", sectionNames[sec], i)
			}
		}
	}
	return nil
}

// derivedSections are made from the vectors alone: Repair makes them
// again rather than give up a segment's rows for damage in them.
var derivedSections = []int{secNorms, secCodes, secQuant}

// verifyAll checks every section; with decode, it also decodes every
// row's metadata and checks every code against its vector (what check
// does; a compaction trusts the checksums).
func (s *segment) verifyAll(decode bool) error {
	if err := s.verifyStored(decode); err != nil {
		return err
	}
	for _, sec := range derivedSections {
		if sec < s.nSections {
			if err := s.verify(sec); err != nil {
				return err
			}
		}
	}
	if !decode {
		return nil
	}
	return s.verifyCodes()
}

// verifyStored checks what cannot be made again: every section but the
// derived ones, the ids' order, and with decode every row's metadata.
func (s *segment) verifyStored(decode bool) error {
	for sec := range s.nSections {
		if slices.Contains(derivedSections, sec) {
			continue
		}
		if err := s.verify(sec); err != nil {
			return err
		}
	}
	for i := 1; i < s.n; i++ {
		if bytes.Compare(s.id(i-1), s.id(i)) >= 0 {
			return s.damage("ids out of order at row %d", i)
		}
	}
	for i := range s.n {
		if !decode {
			break
		}
		if _, err := s.meta(i); err != nil {
			return err
		}
	}
	return nil
}

// verifyCodes checks each vector's code, scale and residual against the
// vector (codeFits): search's exactness rests on them.
func (s *segment) verifyCodes() error {
	if !s.coded() {
		return nil
	}
	for v := range s.n * s.per {
		at := v * s.dim
		if !codeFits(s.vecs[at:at+s.dim], s.codes[at:at+s.dim], s.quant[2*v], s.quant[2*v+1]) {
			return s.damage("codes of row %d do not fit its vectors", v/s.per)
		}
	}
	return nil
}

// coded reports whether the segment has codes (DRSEG003): a search of a
// DRSEG002 segment scans its float32 vectors.
func (s *segment) coded() bool { return s.nSections == numSections }

func (s *segment) id(i int) []byte { return s.ids[32*i : 32*i+32] }

// find returns the row of a raw id, or -1.
func (s *segment) find(raw []byte) int {
	s.prefixOnce.Do(func() {
		s.prefix = make([]uint64, s.n)
		s.bloom = make([]uint64, s.n/4+1)
		for i := range s.prefix {
			p := binary.BigEndian.Uint64(s.id(i))
			s.prefix[i] = p
			w, bits := s.bloomBits(p)
			s.bloom[w] |= bits
		}
	})
	p := binary.BigEndian.Uint64(raw)
	if w, bits := s.bloomBits(p); s.bloom[w]&bits != bits {
		return -1
	}
	i, _ := slices.BinarySearch(s.prefix, p)
	for ; i < s.n && s.prefix[i] == p; i++ {
		if bytes.Equal(s.id(i), raw) {
			return i
		}
	}
	return -1
}

// bloomBits is the word of the Bloom filter an id prefix falls in, and its
// bits there. Ids are hashes already; the multiply spreads ids that are
// not (a test's, say) over the words too.
func (s *segment) bloomBits(p uint64) (word int, bits uint64) {
	h := p * 0x9e3779b97f4a7c15
	word = int((h >> 32) * uint64(len(s.bloom)) >> 32)
	return word, 1<<(h&63) | 1<<(h>>6&63) | 1<<(h>>12&63) | 1<<(h>>18&63)
}

func (s *segment) vector(i int) []float32 {
	w := s.width()
	return s.vecs[i*w : (i+1)*w]
}
func (s *segment) code(i int, codes []int8, quant []float32) ([]int8, []float32) {
	if !s.coded() { // DRSEG002
		return quantizeRow(s.vector(i), codes, quant)
	}
	w := s.width()
	return s.codes[i*w : (i+1)*w], s.quant[2*i*s.per : 2*(i+1)*s.per]
}
func (s *segment) class(i int) string     { return s.table[s.classes[i]] }
func (s *segment) path(i int) string      { return string(s.pathBytes(i)) }
func (s *segment) pathBytes(i int) []byte { return s.paths[s.pathOff[i]:s.pathOff[i+1]] }
func (s *segment) metaJSON(i int) []byte  { return s.metas[s.metaOff[i]:s.metaOff[i+1]] }

func (s *segment) meta(i int) (vectorstore.Metadata, error) {
	var m vectorstore.Metadata
	if err := json.Unmarshal(s.metaJSON(i), &m); err != nil {
		return m, s.damage("metadata of row %d: %v", i, err)
	}
	return m, nil
}

func (s *segment) close() error {
	if s.unmap == nil {
		return nil
	}
	err := s.unmap()
	s.unmap = nil
	return err
}

func floats(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func int8s(b []byte) []int8 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*int8)(unsafe.Pointer(&b[0])), len(b))
}

func uint32s(b []byte) []uint32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func uint64s(b []byte) []uint64 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func (s *segment) rows() int { return s.n }
