package jpegscale

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// skipACTable is a luma AC table made for the edges of huffman.skip: codes
// of every length from 2 to 16, so that a code alone, or a code with its
// extra bits, ends just before, at and just past the skipBits window; an
// end of block and a run of 16 zeros (ZRL) among the long ones.
var skipACTable = []struct {
	value  uint8 // run<<4 | size
	length int
}{
	{0x00, 2}, {0x01, 2}, {0x02, 3}, {0x11, 4}, {0x03, 5}, {0x21, 6},
	{0x04, 7}, {0x31, 8}, {0x05, 9}, {0x12, 10}, {0x06, 11}, {0x41, 12},
	{0x07, 13}, {0x22, 13}, {0xf0, 14}, {0x0a, 15}, {0x13, 16}, {0x61, 16},
}

// huffCode is a canonical Huffman code: the code and its length in bits,
// by value.
type huffCode map[uint8]struct{ code, length int }

// canonical returns the DHT counts and values of codes of the given
// lengths, listed by length, and the codes themselves.
func canonical(values []uint8, lengths []int) (counts [16]byte, vals []byte, codes huffCode) {
	codes = huffCode{}
	code := 0
	for l := 1; l <= 16; l++ {
		for i, v := range values {
			if lengths[i] == l {
				counts[l-1]++
				vals = append(vals, v)
				codes[v] = struct{ code, length int }{code, l}
				code++
			}
		}
		code <<= 1
	}
	return counts, vals, codes
}

// bitWriter writes the entropy-coded data of a scan: bits most significant
// first, a 0x00 stuffed after each 0xff byte, counted in stuffed.
type bitWriter struct {
	out     []byte
	acc     uint64
	n       int
	stuffed int
}

func (w *bitWriter) put(bits, n int) {
	w.acc = w.acc<<n | uint64(bits)&(1<<n-1)
	w.n += n
	for w.n >= 8 {
		b := byte(w.acc >> (w.n - 8))
		w.out = append(w.out, b)
		if b == 0xff {
			w.out = append(w.out, 0x00)
			w.stuffed++
		}
		w.n -= 8
	}
}

// flush pads the last byte with 1 bits, as at the end of a scan or of a
// restart interval.
func (w *bitWriter) flush() {
	if w.n > 0 {
		w.put(1<<(8-w.n)-1, 8-w.n)
	}
}

// magnitude is the JPEG size category of v and its extra bits.
func magnitude(v int) (size, bits int) {
	a := max(v, -v)
	for a>>size != 0 {
		size++
	}
	if v < 0 {
		return size, v + 1<<size - 1
	}
	return size, v
}

// skipTestJPEG encodes a w x h greyscale baseline JPEG whose AC codes are
// drawn from skipACTable at random (seed), with DC step q0 and a restart
// every ri MCUs (0: none); where full, some blocks run to their 64th
// coefficient without an end of block. It returns the file, the pixels a
// 1/8 decode must give (each block's mean, (dc*q0+4)>>3 + 128), how many
// bytes were stuffed and how many AC codes of skipBits bits or more were
// written.
func skipTestJPEG(w, h, ri, q0 int, seed uint64, full bool) (data []byte, want []byte, stuffed, long int) {
	r := rand.New(rand.NewPCG(seed, 8))
	dcVals := []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	dcLens := []int{2, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9}
	dcCounts, dcSorted, dcCodes := canonical(dcVals, dcLens)
	var acVals []uint8
	var acLens []int
	for _, c := range skipACTable {
		acVals, acLens = append(acVals, c.value), append(acLens, c.length)
	}
	acCounts, acSorted, acCodes := canonical(acVals, acLens)

	bw, bh := (w+7)/8, (h+7)/8
	want = make([]byte, bw*bh)
	var bits bitWriter
	var scan []byte
	pred, mcu := 0, 0
	emit := func(codes huffCode, v uint8) {
		c := codes[v]
		bits.put(c.code, c.length)
		if v != 0x00 && v != 0xf0 && c.length >= skipBits {
			long++
		}
	}
	for by := range bh {
		for bx := range bw {
			if ri > 0 && mcu > 0 && mcu%ri == 0 {
				bits.flush()
				scan = append(scan, bits.out...)
				scan = append(scan, 0xff, byte(rst0Marker+(mcu/ri-1)%8))
				bits.out, pred = nil, 0
			}
			mcu++
			// The DC difference, within what keeps the level in range.
			dc := max(-1000/q0, min(1000/q0, pred+r.IntN(81)-40))
			size, extra := magnitude(dc - pred)
			emit(dcCodes, uint8(size))
			bits.put(extra, size)
			pred = dc
			want[by*bw+bx] = clamp128(int32((dc*q0 + 4) >> 3))
			// The AC coefficients: codes at random until the block is
			// full (no end of block after its 64th coefficient), or ends
			// early.
			zig := 1
			for zig < blockSize {
				c := skipACTable[1+r.IntN(len(skipACTable)-1)]
				if c.value == 0xf0 && zig+16 > blockSize {
					continue
				}
				run, size := int(c.value>>4), int(c.value&0x0f)
				if c.value != 0xf0 && zig+run >= blockSize {
					continue
				}
				if !full && r.IntN(6) == 0 {
					break
				}
				emit(acCodes, c.value)
				if c.value == 0xf0 {
					zig += 16
					continue
				}
				// A coefficient of this size: its top bit set.
				bits.put(1<<(size-1)|r.IntN(1<<(size-1)), size)
				zig += run + 1
			}
			if zig < blockSize {
				emit(acCodes, 0x00)
			}
		}
	}
	bits.flush()
	scan = append(scan, bits.out...)

	seg := func(marker byte, body ...[]byte) []byte {
		b := bytes.Join(body, nil)
		return append([]byte{0xff, marker, byte((len(b) + 2) >> 8), byte(len(b) + 2)}, b...)
	}
	dqt := make([]byte, 1+blockSize)
	dqt[1] = byte(q0)
	for i := 2; i < len(dqt); i++ {
		dqt[i] = byte(1 + i%7)
	}
	file := []byte{0xff, soiMarker}
	file = append(file, seg(dqtMarker, dqt)...)
	file = append(file, seg(sof0Marker, []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 1, 1, 0x11, 0})...)
	file = append(file, seg(dhtMarker, []byte{0x00}, dcCounts[:], dcSorted, []byte{0x10}, acCounts[:], acSorted)...)
	if ri > 0 {
		file = append(file, seg(driMarker, []byte{byte(ri >> 8), byte(ri)})...)
	}
	file = append(file, seg(sosMarker, []byte{1, 1, 0x00, 0, 63, 0})...)
	file = append(file, scan...)
	file = append(file, 0xff, eoiMarker)
	return file, want, bits.stuffed, long
}

// TestSkipEdges decodes, at 1/8, greyscale JPEGs made to reach the edges
// of the skip path (skipBlock and huffman.skip): codes and extra bits that
// end at, before and after the skipBits window, blocks that run to their
// last coefficient with or without an end of block, runs of 16 zeros,
// 0xff bytes stuffed at every distance from a refill, restart markers, and
// partial blocks at the right and bottom edges. A block at 1/8 is one
// pixel, the mean its DC coefficient gives, which the test knows exactly;
// and at full size the fork and the standard library must agree.
func TestSkipEdges(t *testing.T) {
	cases := []struct {
		w, h, ri, q0 int
		full         bool
	}{
		{w: 256, h: 256, q0: 8},
		{w: 256, h: 256, q0: 8, full: true},
		{w: 203, h: 97, q0: 3},
		{w: 203, h: 97, ri: 1, q0: 16},
		{w: 160, h: 120, ri: 7, q0: 1, full: true},
		{w: 8, h: 8, q0: 5},
		{w: 1, h: 1, q0: 100},
	}
	var stuffed, long int
	for i, c := range cases {
		name := fmt.Sprintf("%dx%d-ri%d-q%d-full%v", c.w, c.h, c.ri, c.q0, c.full)
		t.Run(name, func(t *testing.T) {
			data, want, s, l := skipTestJPEG(c.w, c.h, c.ri, c.q0, uint64(i), c.full)
			stuffed, long = stuffed+s, long+l
			std, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("the standard library refuses the test file: %v", err)
			}
			full, err := DecodeBytes(data, 1)
			if err != nil || !bytes.Equal(rgba(full).Pix, rgba(std).Pix) {
				t.Fatalf("at full size: error %v, or pixels differ from the standard library's", err)
			}
			img, err := DecodeBytes(data, 8)
			if err != nil {
				t.Fatal(err)
			}
			g, ok := img.(*image.Gray)
			if !ok || g.Rect.Dx() != (c.w+7)/8 || g.Rect.Dy() != (c.h+7)/8 {
				t.Fatalf("got %T %v", img, img.Bounds())
			}
			for y := range g.Rect.Dy() {
				if row := g.Pix[y*g.Stride : y*g.Stride+g.Rect.Dx()]; !bytes.Equal(row, want[y*g.Rect.Dx():(y+1)*g.Rect.Dx()]) {
					t.Fatalf("row %d at 1/8: %v, want %v", y, row, want[y*g.Rect.Dx():(y+1)*g.Rect.Dx()])
				}
			}
		})
	}
	// The test's premise: the files hold what it is about.
	if stuffed < 20 || long < 100 {
		t.Fatalf("the test files hold %d stuffed bytes and %d codes of %d bits or more: too few to prove anything", stuffed, long, skipBits)
	}
}
