// Copyright 2009 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegscale

import (
	"encoding/binary"
	"io"
	mathbits "math/bits"
)

// maxCodeLength is the maximum (inclusive) number of bits in a Huffman code.
const maxCodeLength = 16

// maxNCodes is the maximum (inclusive) number of codes in a Huffman tree.
const maxNCodes = 256

// lutSize is the log-2 size of the Huffman decoder's look-up table.
const lutSize = 8

// fastBits is how many bits huffman.fast looks at.
const fastBits = 10

// skipBits is how many bits huffman.skip looks at: a 12 MP photo at
// quality 92 spends about 50 bits a luma block, in codes of 2 to 16 bits
// with their extra bits; 13 bits take two or three at a time, in a table
// (16 kB) that stays in the level-1 cache.
const skipBits = 13

// huffman is a Huffman decoder, specified in section C.
type huffman struct {
	// length is the number of codes in the tree.
	nCodes int32
	// lut is the look-up table for the next lutSize bits in the bit-stream.
	// The high 8 bits of the uint16 are the encoded value. The low 8 bits
	// are 1 plus the code length, or 0 if the value is too large to fit in
	// lutSize bits.
	lut [1 << lutSize]uint16
	// fast decodes, from the next fastBits bits, a code and the
	// coefficient's extra bits together, where lut knows the code and both
	// fit: value<<16 | fastCoef | run<<fastRunShift | code
	// length<<fastCodeShift | code and extra bits; 0 where not (a DC table's
	// run is 0). In an AC table, an end of block is a run of fastEOBRun and
	// a run of 16 zeros (ZRL) one of 15, neither with fastCoef, a value or
	// extra bits: the sequential decoder (seqBlock) takes each as a
	// coefficient 0 after its run, which changes nothing (an end of block
	// runs past the block). It is derived from lut alone, so it decodes
	// exactly as lut does.
	fast [1 << fastBits]int32
	// skip, for an AC table, steps over several codes with their extra
	// bits at once, where the coefficients are not needed (seqBlock at
	// 1/8): from the next skipBits bits, the whole codes that fit and stay
	// in a block, however long each code is (see the skip* constants). It
	// is made from the canonical code when first needed (skipReady).
	skip      [1 << skipBits]uint16
	skipReady bool
	// vals are the decoded values, sorted by their encoding.
	vals [maxNCodes]uint8
	// minCodes[i] is the minimum code of length i, or -1 if there are no
	// codes of that length.
	minCodes [maxCodeLength]int32
	// maxCodes[i] is the maximum code of length i, or -1 if there are no
	// codes of that length.
	maxCodes [maxCodeLength]int32
	// valsIndices[i] is the index into vals of minCodes[i].
	valsIndices [maxCodeLength]int32
}

// errShortHuffmanData means that an unexpected EOF occurred while decoding
// Huffman data.
var errShortHuffmanData = FormatError("short Huffman data")

// ensureNBits reads bytes from the byte buffer to ensure that d.bits.n is at
// least n. For best performance (avoiding function calls inside hot loops),
// the caller is the one responsible for first checking that d.bits.n < n.
func (d *decoder) ensureNBits(n int32) error {
	// Whole bytes at once where they hold no 0xff: every bit reader of a
	// scan (progressive refinement included) comes through here.
	if d.fastFill(); d.bits.n >= n {
		return nil
	}
	for {
		c, err := d.readByteStuffedByte()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				return errShortHuffmanData
			}
			return err
		}
		d.bits.a = d.bits.a<<8 | uint64(c)
		d.bits.fast = 0 // a byte image/jpeg reads too: none is ahead of it now
		d.bits.n += 8
		if d.bits.n >= n {
			break
		}
	}
	return nil
}

// receiveExtend is the composition of RECEIVE and EXTEND, specified in section
// F.2.2.1.
func (d *decoder) receiveExtend(t uint8) (int32, error) {
	if d.bits.n < int32(t) {
		if err := d.ensureNBits(int32(t)); err != nil {
			return 0, err
		}
	}
	d.bits.n -= int32(t)
	s := int32(1) << t
	x := int32(d.bits.a>>uint8(d.bits.n)) & (s - 1)
	if x < s>>1 {
		x += ((-1) << t) + 1
	}
	return x, nil
}

// processDHT processes a Define Huffman Table marker, and initializes a huffman
// struct from its contents. Specified in section B.2.4.2.
func (d *decoder) processDHT(n int) error {
	for n > 0 {
		if n < 17 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(d.tmp[:17]); err != nil {
			return err
		}
		tc := d.tmp[0] >> 4
		if tc > maxTc {
			return FormatError("bad Tc value")
		}
		th := d.tmp[0] & 0x0f
		// The baseline th <= 1 restriction is specified in table B.5.
		if th > maxTh || (d.baseline && th > 1) {
			return FormatError("bad Th value")
		}
		h := &d.huff[tc][th]

		// Read nCodes and h.vals (and derive h.nCodes).
		// nCodes[i] is the number of codes with code length i.
		// h.nCodes is the total number of codes.
		h.nCodes = 0
		var nCodes [maxCodeLength]int32
		for i := range nCodes {
			nCodes[i] = int32(d.tmp[i+1])
			h.nCodes += nCodes[i]
		}
		if h.nCodes == 0 {
			return FormatError("Huffman table has zero length")
		}
		if h.nCodes > maxNCodes {
			return FormatError("Huffman table has excessive length")
		}
		n -= int(h.nCodes) + 17
		if n < 0 {
			return FormatError("DHT has wrong length")
		}
		if err := d.readFull(h.vals[:h.nCodes]); err != nil {
			return err
		}

		// Derive the look-up table.
		clear(h.lut[:])
		var x, code uint32
		for i := uint32(0); i < lutSize; i++ {
			code <<= 1
			for j := int32(0); j < nCodes[i]; j++ {
				// The codeLength is 1+i, so shift code by 8-(1+i) to
				// calculate the high bits for every 8-bit sequence
				// whose codeLength's high bits matches code.
				// The high 8 bits of lutValue are the encoded value.
				// The low 8 bits are 1 plus the codeLength.
				base := uint8(code << (7 - i))
				lutValue := uint16(h.vals[x])<<8 | uint16(2+i)
				for k := uint8(0); k < 1<<(7-i); k++ {
					h.lut[base|k] = lutValue
				}
				code++
				x++
			}
		}

		h.deriveFast(tc == dcTable)
		h.skipReady = false

		// Derive minCodes, maxCodes, and valsIndices.
		var c, index int32
		for i, n := range nCodes {
			if n == 0 {
				h.minCodes[i] = -1
				h.maxCodes[i] = -1
				h.valsIndices[i] = -1
			} else {
				h.minCodes[i] = c
				h.maxCodes[i] = c + n - 1
				h.valsIndices[i] = index
				c += n
				index += n
			}
			c <<= 1
		}
	}
	return nil
}

// decodeHuffman returns the next Huffman-coded value from the bit-stream,
// decoded according to h.
func (d *decoder) decodeHuffman(h *huffman) (uint8, error) {
	if h.nCodes == 0 {
		return 0, FormatError("uninitialized Huffman table")
	}

	if d.bits.n < 8 {
		if err := d.ensureNBits(8); err != nil {
			if err != errMissingFF00 && err != errShortHuffmanData {
				return 0, err
			}
			// There are no more bytes of data in this segment, but we may still
			// be able to read the next symbol out of the previously read bits.
			// First, undo the readByte that the ensureNBits call made.
			if d.bytes.nUnreadable != 0 {
				d.unreadByteStuffedByte()
			}
			goto slowPath
		}
	}
	if v := h.lut[(d.bits.a>>uint32(d.bits.n-lutSize))&0xff]; v != 0 {
		n := (v & 0xff) - 1
		d.bits.n -= int32(n)
		return uint8(v >> 8), nil
	}

slowPath:
	for i, code := 0, int32(0); i < maxCodeLength; i++ {
		if d.bits.n == 0 {
			if err := d.ensureNBits(1); err != nil {
				return 0, err
			}
		}
		d.bits.n--
		code |= int32(d.bits.a>>(uint32(d.bits.n)&63)) & 1
		if code <= h.maxCodes[i] {
			return h.vals[h.valsIndices[i]+code-h.minCodes[i]], nil
		}
		code <<= 1
	}
	return 0, FormatError("bad Huffman code")
}

func (d *decoder) decodeBit() (bool, error) {
	if d.bits.n == 0 {
		if err := d.ensureNBits(1); err != nil {
			return false, err
		}
	}
	d.bits.n--
	return d.bits.a>>(uint32(d.bits.n)&63)&1 != 0, nil
}

func (d *decoder) decodeBits(n int32) (uint32, error) {
	if d.bits.n < n {
		if err := d.ensureNBits(n); err != nil {
			return 0, err
		}
	}
	ret := uint32(d.bits.a >> uint32(d.bits.n-n))
	ret &= (1 << uint32(n)) - 1
	d.bits.n -= n
	return ret, nil
}

// fastFill tops the accumulator up with whole bytes straight from the
// buffer, as many as fit, while none of them is 0xff (so no byte stuffing
// and no marker is among them). image/jpeg reads one byte at a time, as the
// bits are needed; reading ahead makes the common case a shift and a table
// look-up, and giveBack undoes it where it would show.
func (d *decoder) fastFill() {
	if d.bytes.j-d.bytes.i < 8 {
		return
	}
	v := binary.BigEndian.Uint64(d.bytes.buf[d.bytes.i:])
	// The bytes before the first 0xff, by the has-a-zero-byte test on ^v.
	// A borrow can flag a byte before a real 0xff too, never one before
	// the first: the test errs only towards fewer bytes.
	x := ^v
	safe := mathbits.LeadingZeros64((x-0x0101010101010101)&^x&0x8080808080808080) / 8
	k := min(int(64-d.bits.n)/8, safe)
	if k == 0 {
		return
	}
	if d.bits.fast == 0 {
		d.bits.nUnreadable = d.bytes.nUnreadable
	}
	d.bits.a = d.bits.a<<(8*k) | v>>(64-8*k)
	d.bits.n += int32(8 * k)
	d.bits.fast += k
	d.bytes.i += k
	d.bytes.nUnreadable = 0
}

// giveBack returns to the byte buffer the bytes that fastFill read ahead
// and no code has used, leaving the decoder where image/jpeg's would be:
// called at the end of a scan and of a restart interval, before the next
// marker is looked for. The bytes are still in the buffer: no fill happens
// while any are ahead, as one would read a byte the slow way first.
func (d *decoder) giveBack() {
	k := min(d.bits.fast, int(d.bits.n/8))
	if k == 0 {
		return
	}
	d.bytes.i -= k
	d.bits.a >>= 8 * k
	d.bits.n -= int32(8 * k)
	if k == d.bits.fast {
		d.bytes.nUnreadable = d.bits.nUnreadable
	}
	d.bits.fast -= k
}

// The fields of a huffman.fast entry (see there).
const (
	fastLenMask   = 0x1f // code and extra bits
	fastCodeShift = 5    // the code's bits
	fastCodeMask  = 0x0f
	fastRunShift  = 9 // zeros before the coefficient
	fastRunMask   = 0x3f
	fastCoef      = 1 << 15 // the entry is a coefficient
	fastEOBRun    = 63      // an end of block's run: past any block, from its first AC coefficient on
)

// deriveFast fills h.fast from h.lut (see huffman.fast), for a DC table
// (dc) or an AC table.
func (h *huffman) deriveFast(dc bool) {
	for p := range h.fast {
		h.fast[p] = 0
		v := h.lut[p>>(fastBits-lutSize)]
		if v == 0 {
			continue
		}
		n, run, size := int32(v&0xff)-1, int32(v>>12), int32(v>>8)&0x0f
		switch {
		case dc && run != 0:
			continue // a DC size over 15: the slow path refuses it
		case !dc && size == 0:
			// An end of block, or a run of 16 zeros (ZRL); other ends
			// of band take the slow path.
			switch run {
			case 0:
				h.fast[p] = fastEOBRun<<fastRunShift | n<<fastCodeShift | n
			case 15:
				h.fast[p] = 15<<fastRunShift | n<<fastCodeShift | n
			}
			continue
		case n+size > fastBits:
			continue // too long
		}
		// receiveExtend of the size bits after the code.
		x := int32(p>>(fastBits-n-size)) & (1<<size - 1)
		if size > 0 && x < 1<<(size-1) {
			x += -1<<size + 1
		}
		h.fast[p] = x<<16 | fastCoef | run<<fastRunShift | n<<fastCodeShift | (n + size)
	}
}

// The fields of a huffman.skip entry: the bits its codes take (skipLenMask),
// and above skipNeedShift the zig-zag positions they need left in the
// block (skipNeedMask) with skipEnd if the last is an end of block, so
// that the entry shifted down is what to add to the position: past any
// block after an end of block. need is the positions the codes step over,
// plus one for an end of block, which must not be the block's 64th
// position: the block ends there without it. An entry that needs
// skipNoRoom positions steps over nothing: no whole code fits, or the
// first is one skipBlock leaves to the slow path (an end of band).
const (
	skipLenMask   = 0x1f
	skipNeedShift = 5
	skipNeedMask  = 0x7f
	skipEnd       = 0x80 << skipNeedShift
	skipNoRoom    = skipNeedMask
)

// deriveSkip fills h.skip (see huffman.skip) by decoding each window of
// skipBits bits code by code, as decodeHuffman would from the same bits.
// A table whose code lengths overflow (more codes than their lengths
// allow) decodes in ways the look-up table and the bit-by-bit search
// disagree on, and that may look past a code's own bits: it gets no skip
// entries, and its blocks take the general path.
func (h *huffman) deriveSkip() {
	h.skipReady = true
	for p := range h.skip {
		h.skip[p] = skipNoRoom << skipNeedShift
	}
	if h.nCodes == 0 || !h.prefixFree() {
		return // decodeHuffman refuses an undefined table
	}
	for p := range h.skip {
		var pos, adv uint32
		for {
			// The next 16 bits from pos, zeros past the window: a code
			// of a prefix-free table does not look past its own bits.
			w := uint32(p) << (16 - skipBits) << pos & 0xffff
			l, value, ok := h.peek(w)
			if !ok || pos+l > skipBits {
				break
			}
			run, size := uint32(value>>4), uint32(value&0x0f)
			if size == 0 && run == 0 {
				// An end of block: its own position is not stepped over.
				h.skip[p] = uint16(skipEnd | (adv+1)<<skipNeedShift | (pos + l))
				break
			}
			if size == 0 && run != 15 {
				break // an end of band: the slow path reads its bits
			}
			// A coefficient after run zeros, or 16 zeros (ZRL).
			if pos+l+size > skipBits || adv+run+1 > blockSize {
				break
			}
			pos += l + size
			adv += run + 1
			h.skip[p] = uint16(adv<<skipNeedShift | pos)
		}
	}
}

// prefixFree reports whether h's code lengths fit (Kraft's inequality),
// so that every code, of whatever length, is decoded from its own bits.
func (h *huffman) prefixFree() bool {
	room := 1 << maxCodeLength
	for i := range maxCodeLength {
		if h.maxCodes[i] >= 0 {
			room -= int(h.maxCodes[i]-h.minCodes[i]+1) << (maxCodeLength - 1 - i)
		}
	}
	return room >= 0
}

// peek decodes the code at the top of the 16 bits w as decodeHuffman does
// with 16 bits or more at hand: its length and value, or ok false where no
// code of 16 bits or fewer matches.
func (h *huffman) peek(w uint32) (length uint32, value uint8, ok bool) {
	if v := h.lut[w>>(16-lutSize)]; v != 0 {
		return uint32(v&0xff) - 1, uint8(v >> 8), true
	}
	for i := range maxCodeLength {
		if code := int32(w >> (maxCodeLength - 1 - i)); code <= h.maxCodes[i] {
			return uint32(i) + 1, h.vals[h.valsIndices[i]+code-h.minCodes[i]], true
		}
	}
	return 0, 0, false
}
