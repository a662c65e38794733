package jpegscale

import (
	"encoding/binary"
	mathbits "math/bits"
)

// sumTable reduces the blocks of a component whose blocks become at most
// 2x2 pixels (a 4:2:0 photo's chroma at 1/8, every component at 1/8 but a
// subsampled one, luma at 1/4) in a sequential scan, without a block: each
// coefficient, as it is decoded, is added to one of four partial sums or to
// none. Along an axis of one output pixel only frequency 0 counts; along an
// axis of two, the half-block means of the even frequencies but 0 are zero
// and each odd one adds to one half what it takes from the other (see
// idct2x2). The sums are p[cy*2+cx], where cy and cx are 0 for frequency 0
// and 1 for odd frequencies: pixel (x, y) is the sum of ±p[k] with the sign
// of (1-2x)^cx (1-2y)^cy.
type sumTable struct {
	nx, ny int
	// slot and weight are by zig-zag index; weight includes the
	// dequantization. A coefficient that adds to no output pixel has
	// weight 0 (and slot 0): it adds nothing, without a branch on data
	// that would be mispredicted every few coefficients.
	slot   [blockSize]uint8
	weight [blockSize]float32
	// q0 is the DC quantization step, for the exact integer mean of a
	// block that becomes 1 pixel.
	q0 int32
}

// make fills t for blocks of nx x ny (each 1 or 2) output pixels and
// the quantization table qt (in zig-zag order).
func (t *sumTable) make(nx, ny int, qt *block) {
	t.nx, t.ny, t.q0 = nx, ny, qt[0]
	mx, my := boxIDCT[nx], boxIDCT[ny]
	class := func(f, n int) int {
		switch {
		case f == 0:
			return 0
		case n == 2 && f%2 == 1:
			return 1
		}
		return -1
	}
	for zig, nat := range unzig {
		v, u := nat/8, nat%8
		cy, cx := class(v, ny), class(u, nx)
		if cy < 0 || cx < 0 {
			t.slot[zig], t.weight[zig] = 0, 0
			continue
		}
		t.slot[zig] = uint8(cy*2 + cx)
		t.weight[zig] = my[0][v] * mx[0][u] * float32(qt[zig])
	}
}

// write stores the nx x ny pixels of a block whose DC coefficient (not
// dequantized) is dc and whose partial sums are p.
func (t *sumTable) write(p *[4]float32, dc int32, dst []byte, stride int) {
	if t.nx == 1 && t.ny == 1 {
		// The mean of the block's 64 pixels is the DC coefficient / 8.
		dst[0] = clamp128((dc*t.q0 + 4) >> 3)
		return
	}
	if t.nx == 2 && t.ny == 2 {
		// As the loop below, unrolled: the sums in the same order, the
		// signs exact.
		even, odd := p[0]+p[1], p[0]-p[1]
		row0, row1 := dst[:2], dst[stride:stride+2]
		row0[0], row0[1] = level(even+p[2]+p[3]), level(odd+p[2]-p[3])
		row1[0], row1[1] = level(even-p[2]-p[3]), level(odd-p[2]+p[3])
		return
	}
	for y := range t.ny {
		sy := float32(1 - 2*y)
		for x := range t.nx {
			sx := float32(1 - 2*x)
			dst[y*stride+x] = level(p[0] + sx*p[1] + sy*p[2] + sx*sy*p[3])
		}
	}
}

// refillBelow is the number of bits below which seqBlock refills: enough
// for a look-up of skipBits, and low enough that a refill adds 6 bytes or
// more.
const refillBelow = 16

// reg is the sequential decoder's bit register: the bits of d.bits, held
// in locals (a struct of three words stays in CPU registers) across the
// codes of a block, or the blocks of a scan. buf holds the n unread bits at
// its top, zeros below; i is where d.bytes.i is after them, the bytes
// between d.bytes.i and i being read ahead as fastFill reads them. The
// bookkeeping fastFill does at each fill is done once, by storeReg, before
// anything else reads the bits or the bytes.
type reg struct {
	buf uint64
	n   int32
	i   int
}

// loadReg takes the bits of d.bits into a register.
func (d *decoder) loadReg() reg {
	return reg{d.bits.a << uint(64-d.bits.n), d.bits.n, d.bytes.i}
}

// storeReg hands the bits of r back to d.bits, and the bytes it read
// ahead to the byte buffer's bookkeeping, as fastFill would have.
func (d *decoder) storeReg(r reg) {
	d.bits.a, d.bits.n = r.buf>>uint(64-r.n), r.n
	if k := r.i - d.bytes.i; k > 0 {
		if d.bits.fast == 0 {
			d.bits.nUnreadable = d.bytes.nUnreadable
		}
		d.bits.fast += k
		d.bytes.i = r.i
		d.bytes.nUnreadable = 0
	}
}

// refill is fastFill on a register: up to 8 bytes, up to the first 0xff.
// Small enough to be inlined in the loops that call it.
func (d *decoder) refill(r reg) reg {
	if d.bytes.j-r.i < 8 {
		return r
	}
	v := binary.BigEndian.Uint64(d.bytes.buf[r.i:])
	// The bits of the bytes before the first 0xff, as in fastFill (whose
	// x is ^v), and that fit.
	k := min(64-r.n, int32(mathbits.LeadingZeros64((^v-0x0101010101010101)&v&0x8080808080808080))) &^ 7
	r.buf |= v &^ (^uint64(0) >> k) >> r.n
	r.n += k
	r.i += int(k >> 3)
	return r
}

// seqBlock decodes one block of a sequential scan: its DC difference with
// dcH, added to *pred, and its AC coefficients with acH. With t nil it
// writes the coefficients, in natural order, into b, which must be zero;
// otherwise it adds them into p as t says, and leaves b alone. (A block
// that becomes one pixel takes skipBlock.)
//
// It reads the same bits in the same order, and fails in the same way, as
// the general loop of processSOS, which is the standard library's; only
// faster: the bits live in a register (reg), refilled with up to 8 bytes
// at a time as fastFill does, and a code with its extra bits, an end of
// block or a run of 16 zeros takes one table look-up (huffman.fast).
// Anything else (a 0xff byte ahead, the end of the buffer, long codes, ends
// of band) goes through decodeHuffman and receiveExtend.
func (d *decoder) seqBlock(b *block, dcH, acH *huffman, pred *int32, t *sumTable, p *[4]float32) error {
	r, err := d.seqDC(d.loadReg(), dcH, pred)
	if err != nil {
		return err
	}
	if t == nil {
		b[0] = *pred
	} else {
		p[0] = t.weight[0] * float32(*pred)
		p[1], p[2], p[3] = 0, 0, 0
	}
	if d.eobRun > 0 {
		d.eobRun--
		d.storeReg(r)
		return nil
	}

	// The AC coefficients, as specified in section F.2.2.2. An end of
	// block runs past the block, and a run of 16 zeros is a coefficient 0
	// (see huffman.fast).
	for zig := int32(1); zig < blockSize; zig++ {
		if r.n < refillBelow {
			r = d.refill(r)
		}
		e := acH.fast[r.buf>>(64-fastBits)]
		var v int32
		if e == 0 || r.n < fastBits {
			d.storeReg(r)
			var end bool
			var err error
			if zig, v, end, err = d.slowAC(acH, zig); end || err != nil {
				return err
			}
			r = d.loadReg()
			if zig >= blockSize {
				continue
			}
		} else {
			zig += e >> fastRunShift & fastRunMask
			if zig >= blockSize {
				l := e >> fastCodeShift & fastCodeMask
				r.buf <<= uint(l)
				r.n -= l
				break
			}
			l := e & fastLenMask
			r.buf <<= uint(l)
			r.n -= l
			v = e >> 16
		}
		if t == nil {
			b[unzig[zig&(blockSize-1)]] = v
		} else {
			p[t.slot[zig&(blockSize-1)]&3] += t.weight[zig&(blockSize-1)] * float32(v)
		}
	}
	d.storeReg(r)
	return nil
}

// skipBlock is seqBlock for a block of which only the DC coefficient
// counts (one that becomes one pixel), on the register r: it steps over
// the AC codes, several at a time where they fit in skipBits, are at
// hand, and stay in the block (huffman.skip). It returns the register
// after the block; d.bits is stale until storeReg.
func (d *decoder) skipBlock(r reg, dcH, acH *huffman, pred *int32) (reg, error) {
	r, err := d.seqDC(r, dcH, pred)
	if err != nil {
		return r, err
	}
	if d.eobRun > 0 {
		d.eobRun--
		return r, nil
	}
	// An end of block takes zig past the block (see skipEnd).
	for zig := int32(1); zig < blockSize; {
		if r.n < skipBits {
			r = d.refill(r)
		}
		// As many look-ups as there are bits for (skipBits each): in
		// locals of their own, which the compiler keeps in registers.
		buf, n, room := r.buf, r.n, true
		for n >= skipBits {
			s := int32(acH.skip[buf>>(64-skipBits)])
			step := s >> skipNeedShift
			if zig+step&skipNeedMask > blockSize {
				room = false
				break
			}
			l := s & skipLenMask
			buf <<= uint(l) & 63
			n -= l
			if zig += step; zig >= blockSize {
				return reg{buf, n, r.i}, nil
			}
		}
		progress := n < r.n
		r.buf, r.n = buf, n
		if room && progress {
			continue // out of bits: refill
		}
		// One code the table does not step over, or too few bits at
		// hand (a 0xff byte or the end of the data ahead).
		e := acH.fast[r.buf>>(64-fastBits)]
		if e == 0 || r.n < fastBits {
			d.storeReg(r)
			var end bool
			var err error
			if zig, _, end, err = d.slowAC(acH, zig); end || err != nil {
				return d.loadReg(), err
			}
			r = d.loadReg()
			zig++
			continue
		}
		zig += e >> fastRunShift & fastRunMask
		l := e & fastLenMask
		if zig >= blockSize {
			l = e >> fastCodeShift & fastCodeMask
		}
		r.buf <<= uint(l)
		r.n -= l
		zig++
	}
	return r, nil
}

// seqDC decodes a block's DC difference with dcH from the register r, as
// specified in section F.2.2.1, and adds it to *pred.
func (d *decoder) seqDC(r reg, dcH *huffman, pred *int32) (reg, error) {
	if r.n < refillBelow {
		r = d.refill(r)
	}
	if e := dcH.fast[r.buf>>(64-fastBits)]; e != 0 && r.n >= fastBits {
		l := e & fastLenMask
		*pred += e >> 16
		return reg{r.buf << uint(l), r.n - l, r.i}, nil
	}
	d.storeReg(r)
	value, err := d.decodeHuffman(dcH)
	if err != nil {
		return r, err
	}
	if value > 16 {
		return r, UnsupportedError("excessive DC component")
	}
	delta, err := d.receiveExtend(value)
	if err != nil {
		return r, err
	}
	*pred += delta
	return d.loadReg(), nil
}

// slowAC decodes the AC code at zig-zag index zig of a sequential scan
// with h, from d.bits, as processSOS's general loop does: it returns the
// index of the coefficient and its value, or end when the block ends (an
// end of band, or a run past the block). A run of 16 zeros returns zig+15
// and 0, which may be past the block.
func (d *decoder) slowAC(h *huffman, zig int32) (int32, int32, bool, error) {
	value, err := d.decodeHuffman(h)
	if err != nil {
		return 0, 0, false, err
	}
	val0, val1 := value>>4, value&0x0f
	if val1 == 0 {
		if val0 != 0x0f {
			d.eobRun = uint16(1 << val0)
			if val0 != 0 {
				bits, err := d.decodeBits(int32(val0))
				if err != nil {
					return 0, 0, false, err
				}
				d.eobRun |= uint16(bits)
			}
			d.eobRun--
			return 0, 0, true, nil
		}
		return zig + 0x0f, 0, false, nil
	}
	zig += int32(val0)
	if zig >= blockSize {
		return 0, 0, true, nil
	}
	v, err := d.receiveExtend(val1)
	return zig, v, false, err
}
