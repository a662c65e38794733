// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpegscale

import (
	"image"
)

// makeImg allocates and initializes the destination image, at 1/d.scale of
// the full size. Each 8x8 block of component i becomes d.blockW[i] x
// d.blockH[i] pixels: 8/scale for luma, but a subsampled chroma block covers
// more pixels, and is reduced less, up to its full 8x8, so that the reduced
// image keeps as much colour detail as a full decode shrunk by a box filter
// (4:2:0 decoded at 1/2 comes out 4:4:4, as in libjpeg).
func (d *decoder) makeImg(mxx, myy int) {
	s := d.scale
	// Round up, as libjpeg does, so that a partial block at the right or
	// bottom edge still gives a pixel.
	w, h := (d.width+s-1)/s, (d.height+s-1)/s
	if d.nComp == 1 {
		d.blockW[0], d.blockH[0] = 8/s, 8/s
		m := image.NewGray(image.Rect(0, 0, 8/s*mxx, 8/s*myy))
		d.img1 = m.SubImage(image.Rect(0, 0, w, h)).(*image.Gray)
		d.plane[0], d.planeStride[0] = d.img1.Pix, d.img1.Stride
		return
	}

	h0 := d.comp[0].h
	v0 := d.comp[0].v
	for i := range d.nComp {
		// A block of component i spans 8*h0/h pixels across; reducing it by
		// only s/gh leaves gh output samples where the full decode repeats
		// one chroma sample over gh pixels.
		gh, gv := min(h0/d.comp[i].h, s), min(v0/d.comp[i].v, s)
		d.blockW[i], d.blockH[i] = 8*gh/s, 8*gv/s
	}
	hRatio := h0 / d.comp[1].h / min(h0/d.comp[1].h, s)
	vRatio := v0 / d.comp[1].v / min(v0/d.comp[1].v, s)
	var subsampleRatio image.YCbCrSubsampleRatio
	switch hRatio<<4 | vRatio {
	case 0x11:
		subsampleRatio = image.YCbCrSubsampleRatio444
	case 0x12:
		subsampleRatio = image.YCbCrSubsampleRatio440
	case 0x21:
		subsampleRatio = image.YCbCrSubsampleRatio422
	case 0x22:
		subsampleRatio = image.YCbCrSubsampleRatio420
	case 0x41:
		subsampleRatio = image.YCbCrSubsampleRatio411
	case 0x42:
		subsampleRatio = image.YCbCrSubsampleRatio410
	default:
		panic("unreachable")
	}
	d.cScale = hRatio
	m := image.NewYCbCr(image.Rect(0, 0, 8/s*h0*mxx, 8/s*v0*myy), subsampleRatio)
	d.img3 = m.SubImage(image.Rect(0, 0, w, h)).(*image.YCbCr)

	if d.nComp == 4 {
		h3, v3 := d.comp[3].h, d.comp[3].v
		d.blackPix = make([]byte, 8/s*h3*mxx*8/s*v3*myy)
		d.blackStride = 8 / s * h3 * mxx
	}
	d.plane = [maxComponents][]byte{d.img3.Y, d.img3.Cb, d.img3.Cr, d.blackPix}
	d.planeStride = [maxComponents]int{d.img3.YStride, d.img3.CStride, d.img3.CStride, d.blackStride}
}

// scanComp is one component of a scan, as its SOS header gives it.
type scanComp struct {
	compIndex uint8
	td        uint8 // DC table selector.
	ta        uint8 // AC table selector.
}

// Specified in section B.2.3.
func (d *decoder) processSOS(n int) error {
	if d.nComp == 0 {
		return FormatError("missing SOF marker")
	}
	if n < 6 || 4+2*d.nComp < n || n%2 != 0 {
		return FormatError("SOS has wrong length")
	}
	if err := d.readFull(d.tmp[:n]); err != nil {
		return err
	}
	nComp := int(d.tmp[0])
	if n != 4+2*nComp {
		return FormatError("SOS length inconsistent with number of components")
	}
	var scan [maxComponents]scanComp
	totalHV := 0
	for i := 0; i < nComp; i++ {
		cs := d.tmp[1+2*i] // Component selector.
		compIndex := -1
		for j, comp := range d.comp[:d.nComp] {
			if cs == comp.c {
				compIndex = j
			}
		}
		if compIndex < 0 {
			return FormatError("unknown component selector")
		}
		scan[i].compIndex = uint8(compIndex)
		// Section B.2.3 states that "the value of Cs_j shall be different from
		// the values of Cs_1 through Cs_(j-1)". Since we have previously
		// verified that a frame's component identifiers (C_i values in section
		// B.2.2) are unique, it suffices to check that the implicit indexes
		// into d.comp are unique.
		for j := 0; j < i; j++ {
			if scan[i].compIndex == scan[j].compIndex {
				return FormatError("repeated component selector")
			}
		}
		totalHV += d.comp[compIndex].h * d.comp[compIndex].v

		// The baseline t <= 1 restriction is specified in table B.3.
		scan[i].td = d.tmp[2+2*i] >> 4
		if t := scan[i].td; t > maxTh || (d.baseline && t > 1) {
			return FormatError("bad Td value")
		}
		scan[i].ta = d.tmp[2+2*i] & 0x0f
		if t := scan[i].ta; t > maxTh || (d.baseline && t > 1) {
			return FormatError("bad Ta value")
		}
	}
	// Section B.2.3 states that if there is more than one component then the
	// total H*V values in a scan must be <= 10.
	if d.nComp > 1 && totalHV > 10 {
		return FormatError("total sampling factors too large")
	}

	// zigStart and zigEnd are the spectral selection bounds.
	// ah and al are the successive approximation high and low values.
	// The spec calls these values Ss, Se, Ah and Al.
	//
	// For progressive JPEGs, these are the two more-or-less independent
	// aspects of progression. Spectral selection progression is when not
	// all of a block's 64 DCT coefficients are transmitted in one pass.
	// For example, three passes could transmit coefficient 0 (the DC
	// component), coefficients 1-5, and coefficients 6-63, in zig-zag
	// order. Successive approximation is when not all of the bits of a
	// band of coefficients are transmitted in one pass. For example,
	// three passes could transmit the 6 most significant bits, followed
	// by the second-least significant bit, followed by the least
	// significant bit.
	//
	// For sequential JPEGs, these parameters are hard-coded to 0/63/0/0, as
	// per table B.3.
	zigStart, zigEnd, ah, al := int32(0), int32(blockSize-1), uint32(0), uint32(0)
	if d.progressive {
		zigStart = int32(d.tmp[1+2*nComp])
		zigEnd = int32(d.tmp[2+2*nComp])
		ah = uint32(d.tmp[3+2*nComp] >> 4)
		al = uint32(d.tmp[3+2*nComp] & 0x0f)
		if (zigStart == 0 && zigEnd != 0) || zigStart > zigEnd || blockSize <= zigEnd {
			return FormatError("bad spectral selection bounds")
		}
		if zigStart != 0 && nComp != 1 {
			return FormatError("progressive AC coefficients for more than one component")
		}
		if ah != 0 && ah != al+1 {
			return FormatError("bad successive approximation values")
		}
	}

	// mxx and myy are the number of MCUs (Minimum Coded Units) in the image.
	h0, v0 := d.comp[0].h, d.comp[0].v // The h and v values from the Y components.
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	myy := (d.height + 8*v0 - 1) / (8 * v0)
	if d.img1 == nil && d.img3 == nil {
		d.makeImg(mxx, myy)
	}
	if d.progressive {
		for i := 0; i < nComp; i++ {
			compIndex := scan[i].compIndex
			if d.progCoeffs[compIndex] == nil {
				d.progCoeffs[compIndex] = make([]block, mxx*myy*d.comp[compIndex].h*d.comp[compIndex].v)
			}
		}
	}

	// A sequential scan reduces the components whose blocks become at most
	// 2x2 pixels straight from their coefficients (see sumTable).
	var sums [maxComponents]*sumTable
	if !d.progressive {
		for i := 0; i < nComp; i++ {
			c := scan[i].compIndex
			if bw, bh := d.blockW[c], d.blockH[c]; bw <= 2 && bh <= 2 {
				d.sumTabs[c].make(bw, bh, &d.quant[d.comp[c].tq])
				sums[c] = &d.sumTabs[c]
				if h := &d.huff[acTable][scan[i].ta]; bw == 1 && bh == 1 && !h.skipReady {
					h.deriveSkip()
				}
			}
		}
	}

	d.bits = bits{}
	mcu, expectedRST := 0, uint8(rst0Marker)
	var (
		// b is the decoded coefficients, in natural (not zig-zag) order.
		b  block
		dc [maxComponents]int32
		// bx and by are the location of the current block, in units of 8x8
		// blocks: the third block in the first row has (bx, by) = (2, 0).
		bx, by int
		cx, cy int
	)
	if blocks, ok := d.reducedBlocks(scan[:nComp], &sums, &dc); ok {
		return d.reducedScan(blocks, &dc, mxx, myy)
	}
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for i := 0; i < nComp; i++ {
				compIndex := scan[i].compIndex
				hi := d.comp[compIndex].h
				vi := d.comp[compIndex].v
				for j, jx, jy := 0, 0, 0; j < hi*vi; j++ {
					// The blocks are traversed one MCU at a time. For 4:2:0 chroma
					// subsampling, there are four Y 8x8 blocks in every 16x16 MCU.
					//
					// For a sequential 32x16 pixel image, the Y blocks visiting order is:
					//	0 1 4 5
					//	2 3 6 7
					//
					// For progressive images, the interleaved scans (those with nComp > 1)
					// are traversed as above, but non-interleaved scans are traversed left
					// to right, top to bottom:
					//	0 1 2 3
					//	4 5 6 7
					// Only DC scans (zigStart == 0) can be interleaved. AC scans must have
					// only one component.
					//
					// To further complicate matters, for non-interleaved scans, there is no
					// data for any blocks that are inside the image at the MCU level but
					// outside the image at the pixel level. For example, a 24x16 pixel 4:2:0
					// progressive image consists of two 16x16 MCUs. The interleaved scans
					// will process 8 Y blocks:
					//	0 1 4 5
					//	2 3 6 7
					// The non-interleaved scans will process only 6 Y blocks:
					//	0 1 2
					//	3 4 5
					// (jx, jy) is block j of the MCU, and (cx, cy) block
					// blockCount of a non-interleaved scan: counted, not
					// divided, as that is a tenth of a reduced decode.
					if nComp != 1 {
						bx = hi*mx + jx
						by = vi*my + jy
						if jx++; jx == hi {
							jx, jy = 0, jy+1
						}
					} else {
						bx, by = cx, cy
						if cx++; cx == mxx*hi {
							cx, cy = 0, cy+1
						}
						if bx*8 >= d.width || by*8 >= d.height {
							continue
						}
					}

					if !d.progressive {
						t := sums[compIndex]
						if t != nil && t.nx == 1 && t.ny == 1 {
							// The block's mean, its DC coefficient / 8,
							// is its one pixel (see sumTable.write).
							r, err := d.skipBlock(d.loadReg(), &d.huff[dcTable][scan[i].td], &d.huff[acTable][scan[i].ta], &dc[compIndex])
							if err != nil {
								return err
							}
							d.storeReg(r)
							d.plane[compIndex][by*d.planeStride[compIndex]+bx] = clamp128((dc[compIndex]*t.q0 + 4) >> 3)
							continue
						}
						if t == nil {
							b = block{}
						}
						var p [4]float32
						if err := d.seqBlock(&b, &d.huff[dcTable][scan[i].td], &d.huff[acTable][scan[i].ta], &dc[compIndex], t, &p); err != nil {
							return err
						}
						if t != nil {
							dst, stride, err := d.blockDst(bx, by, int(compIndex))
							if err != nil {
								return err
							}
							t.write(&p, dc[compIndex], dst, stride)
						} else if err := d.reconstructBlock(&b, bx, by, int(compIndex)); err != nil {
							return err
						}
						continue
					}

					// Load the previous partially decoded coefficients, if applicable.
					// Unlike image/jpeg, decode into them in place rather than into
					// a copy saved back afterwards: two 256-byte copies per block
					// and scan were a third of a progressive decode.
					bp := &b
					if d.progressive {
						bp = &d.progCoeffs[compIndex][by*mxx*hi+bx]
					} else {
						b = block{}
					}

					if ah != 0 {
						if err := d.refine(bp, &d.huff[acTable][scan[i].ta], zigStart, zigEnd, 1<<al); err != nil {
							return err
						}
					} else {
						zig := zigStart
						if zig == 0 {
							zig++
							// Decode the DC coefficient, as specified in section F.2.2.1.
							if d.bits.n < 32 {
								d.fastFill()
							}
							value, err := d.decodeHuffman(&d.huff[dcTable][scan[i].td])
							if err != nil {
								return err
							}
							if value > 16 {
								return UnsupportedError("excessive DC component")
							}
							dcDelta, err := d.receiveExtend(value)
							if err != nil {
								return err
							}
							dc[compIndex] += dcDelta
							bp[0] = dc[compIndex] << al
						}

						if zig <= zigEnd && d.eobRun > 0 {
							d.eobRun--
						} else {
							// Decode the AC coefficients, as specified in section F.2.2.2.
							huff := &d.huff[acTable][scan[i].ta]
							for ; zig <= zigEnd; zig++ {
								// The fast paths below, inlined, are decodeHuffman's
								// and receiveExtend's when the bits are already at
								// hand: the same bits read in the same order, without
								// two calls per coefficient (half the decode time).
								if d.bits.n < 32 {
									d.fastFill()
								}
								if d.bits.n >= fastBits {
									if e := huff.fast[(d.bits.a>>uint32(d.bits.n-fastBits))&(1<<fastBits-1)]; e&fastCoef != 0 {
										// As below, but code and extra bits at once.
										zig += e >> fastRunShift & fastRunMask
										if zig > zigEnd {
											d.bits.n -= e >> fastCodeShift & fastCodeMask
											break
										}
										d.bits.n -= e & fastLenMask
										bp[unzig[zig]] = e >> 16 << al
										continue
									}
								}
								var value uint8
								if v := huff.lut[(d.bits.a>>uint32(d.bits.n-lutSize))&0xff]; d.bits.n >= lutSize && huff.nCodes != 0 && v != 0 {
									n := int32(v&0xff) - 1
									d.bits.n -= n
									value = uint8(v >> 8)
								} else {
									var err error
									if value, err = d.decodeHuffman(huff); err != nil {
										return err
									}
								}
								val0 := value >> 4
								val1 := value & 0x0f
								if val1 != 0 {
									zig += int32(val0)
									if zig > zigEnd {
										break
									}
									var ac int32
									if t := int32(val1); d.bits.n >= t {
										d.bits.n -= t
										s := int32(1) << t
										ac = int32(d.bits.a>>uint32(d.bits.n)) & (s - 1)
										if ac < s>>1 {
											ac += ((-1) << t) + 1
										}
									} else {
										var err error
										if ac, err = d.receiveExtend(val1); err != nil {
											return err
										}
									}
									bp[unzig[zig]] = ac << al
								} else {
									if val0 != 0x0f {
										d.eobRun = uint16(1 << val0)
										if val0 != 0 {
											bits, err := d.decodeBits(int32(val0))
											if err != nil {
												return err
											}
											d.eobRun |= uint16(bits)
										}
										d.eobRun--
										break
									}
									zig += 0x0f
								}
							}
						}
					}

					if d.progressive {
						// At this point, we could call reconstructBlock to dequantize and perform the
						// inverse DCT, to save early stages of a progressive image to the *image.YCbCr
						// buffers (the whole point of progressive encoding), but in Go, the jpeg.Decode
						// function does not return until the entire image is decoded, so we "continue"
						// here to avoid wasted computation. Instead, reconstructBlock is called on each
						// accumulated block by the reconstructProgressiveImage method after all of the
						// SOS markers are processed.
						continue
					}
					if err := d.reconstructBlock(bp, bx, by, int(compIndex)); err != nil {
						return err
					}
				} // for j
			} // for i
			mcu++
			if d.ri > 0 && mcu%d.ri == 0 && mcu < mxx*myy {
				if err := d.restart(&expectedRST); err != nil {
					return err
				}
				// Reset the DC components, as per section F.2.1.3.1.
				dc = [maxComponents]int32{}
			}
		} // for mx
	} // for my

	d.giveBack()
	return nil
}

// restart reads the restart marker at the end of a restart interval,
// *expectedRST, and moves that on to the next one; it resets the Huffman
// decoder and the progressive decoder's end-of-band run. The caller resets
// the DC predictions.
func (d *decoder) restart(expectedRST *uint8) error {
	d.giveBack()
	// For well-formed input, the RST[0-7] restart marker follows
	// immediately. For corrupt input, call findRST to try to
	// resynchronize.
	if err := d.readFull(d.tmp[:2]); err != nil {
		return err
	} else if d.tmp[0] != 0xff || d.tmp[1] != *expectedRST {
		if err := d.findRST(*expectedRST); err != nil {
			return err
		}
	}
	*expectedRST++
	if *expectedRST == rst7Marker+1 {
		*expectedRST = rst0Marker
	}
	// Reset the Huffman decoder.
	d.bits = bits{}
	// Reset the progressive decoder state, as per section G.1.2.2.
	d.eobRun = 0
	return nil
}

// reducedBlock is one block of an MCU for reducedScan.
type reducedBlock struct {
	dcH, acH *huffman
	t        *sumTable
	// dc is the component's DC prediction, shared by its blocks.
	dc *int32
	// plane is the component's pixels; the block's first is at
	// my*mcuRow + mx*mcuCol + off for MCU (mx, my).
	plane          []byte
	stride         int
	mcuRow, mcuCol int
	off            int
}

// reducedBlocks returns the blocks of an MCU of a sequential scan for
// reducedScan, in the order they are coded, or false where reducedScan
// does not serve the scan (see there). sums are processSOS's, by
// component; dc holds the DC predictions.
func (d *decoder) reducedBlocks(scan []scanComp, sums *[maxComponents]*sumTable, dc *[maxComponents]int32) ([]reducedBlock, bool) {
	if d.progressive || len(scan) != d.nComp || (d.nComp == 1 && (d.comp[0].h != 1 || d.comp[0].v != 1)) {
		return nil, false
	}
	var blocks []reducedBlock
	for _, sc := range scan {
		c := int(sc.compIndex)
		t := sums[c]
		if t == nil {
			return nil, false
		}
		h, v, stride := d.comp[c].h, d.comp[c].v, d.planeStride[c]
		for jy := range v {
			for jx := range h {
				blocks = append(blocks, reducedBlock{
					dcH: &d.huff[dcTable][sc.td], acH: &d.huff[acTable][sc.ta], t: t, dc: &dc[c],
					plane: d.plane[c], stride: stride,
					mcuRow: v * t.ny * stride, mcuCol: h * t.nx,
					off: jy*t.ny*stride + jx*t.nx,
				})
			}
		}
	}
	return blocks, true
}

// reducedScan decodes a sequential scan in which every block becomes at
// most 2x2 pixels (1/8 scale, and luma at 1/4 without chroma), reduced
// straight from its coefficients (see sumTable), with every component of
// the frame interleaved, or one component of one block per MCU: what
// processSOS's loop does for such a scan, in fewer steps a block. A block
// that becomes one pixel is decoded by skipBlock on bits held in a
// register across blocks. dc holds the DC predictions of blocks.
func (d *decoder) reducedScan(blocks []reducedBlock, dc *[maxComponents]int32, mxx, myy int) error {
	mcu, expectedRST := 0, uint8(rst0Marker)
	r := d.loadReg()
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for k := range blocks {
				b := &blocks[k]
				at := my*b.mcuRow + mx*b.mcuCol + b.off
				if b.t.nx == 1 && b.t.ny == 1 {
					var err error
					if r, err = d.skipBlock(r, b.dcH, b.acH, b.dc); err != nil {
						return err
					}
					// The block's mean, its DC coefficient / 8.
					b.plane[at] = clamp128((*b.dc*b.t.q0 + 4) >> 3)
					continue
				}
				d.storeReg(r)
				var p [4]float32
				if err := d.seqBlock(nil, b.dcH, b.acH, b.dc, b.t, &p); err != nil {
					return err
				}
				r = d.loadReg()
				b.t.write(&p, *b.dc, b.plane[at:], b.stride)
			}
			mcu++
			if d.ri > 0 && mcu%d.ri == 0 && mcu < mxx*myy {
				d.storeReg(r)
				if err := d.restart(&expectedRST); err != nil {
					return err
				}
				*dc = [maxComponents]int32{} // as per section F.2.1.3.1
				r = d.loadReg()
			}
		}
	}
	d.storeReg(r)
	d.giveBack()
	return nil
}

// refine decodes a successive approximation refinement block, as specified in
// section G.1.2.
func (d *decoder) refine(b *block, h *huffman, zigStart, zigEnd, delta int32) error {
	// Refining a DC component is trivial.
	if zigStart == 0 {
		if zigEnd != 0 {
			panic("unreachable")
		}
		bit, err := d.decodeBit()
		if err != nil {
			return err
		}
		if bit {
			b[0] |= delta
		}
		return nil
	}

	// Refining AC components is more complicated; see sections G.1.2.2 and G.1.2.3.
	zig := zigStart
	if d.eobRun == 0 {
	loop:
		for ; zig <= zigEnd; zig++ {
			z := int32(0)
			value, err := d.decodeHuffman(h)
			if err != nil {
				return err
			}
			val0 := value >> 4
			val1 := value & 0x0f

			switch val1 {
			case 0:
				if val0 != 0x0f {
					d.eobRun = uint16(1 << val0)
					if val0 != 0 {
						bits, err := d.decodeBits(int32(val0))
						if err != nil {
							return err
						}
						d.eobRun |= uint16(bits)
					}
					break loop
				}
			case 1:
				z = delta
				bit, err := d.decodeBit()
				if err != nil {
					return err
				}
				if !bit {
					z = -z
				}
			default:
				return FormatError("unexpected Huffman code")
			}

			zig, err = d.refineNonZeroes(b, zig, zigEnd, int32(val0), delta)
			if err != nil {
				return err
			}
			if zig > zigEnd {
				return FormatError("too many coefficients")
			}
			if z != 0 {
				b[unzig[zig]] = z
			}
		}
	}
	if d.eobRun > 0 {
		d.eobRun--
		if _, err := d.refineNonZeroes(b, zig, zigEnd, -1, delta); err != nil {
			return err
		}
	}
	return nil
}

// refineNonZeroes refines non-zero entries of b in zig-zag order. If nz >= 0,
// the first nz zero entries are skipped over.
func (d *decoder) refineNonZeroes(b *block, zig, zigEnd, nz, delta int32) (int32, error) {
	for ; zig <= zigEnd; zig++ {
		u := unzig[zig]
		if b[u] == 0 {
			if nz == 0 {
				break
			}
			nz--
			continue
		}
		// decodeBit, inlined where the bit is at hand.
		var bit bool
		if d.bits.n > 0 {
			d.bits.n--
			bit = d.bits.a>>(uint32(d.bits.n)&63)&1 != 0
		} else {
			var err error
			if bit, err = d.decodeBit(); err != nil {
				return 0, err
			}
		}
		if !bit {
			continue
		}
		if b[u] >= 0 {
			b[u] += delta
		} else {
			b[u] -= delta
		}
	}
	return zig, nil
}

func (d *decoder) reconstructProgressiveImage() error {
	// The h0, mxx, by and bx variables have the same meaning as in the
	// processSOS method.
	h0 := d.comp[0].h
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	for i := 0; i < d.nComp; i++ {
		if d.progCoeffs[i] == nil {
			continue
		}
		v := 8 * d.comp[0].v / d.comp[i].v
		h := 8 * d.comp[0].h / d.comp[i].h
		stride := mxx * d.comp[i].h
		for by := 0; by*v < d.height; by++ {
			for bx := 0; bx*h < d.width; bx++ {
				if err := d.reconstructBlock(&d.progCoeffs[i][by*stride+bx], bx, by, i); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// reconstructBlock dequantizes, performs the inverse DCT and stores the block
// to the image, reduced to d.blockW x d.blockH pixels (see makeImg).
func (d *decoder) reconstructBlock(b *block, bx, by, compIndex int) error {
	bw, bh := d.blockW[compIndex], d.blockH[compIndex]
	dst, stride, err := d.blockDst(bx, by, compIndex)
	if err != nil {
		return err
	}
	qt := &d.quant[d.comp[compIndex].tq]
	if bw == 1 && bh == 1 {
		// The mean of the block's 64 pixels is the DC coefficient / 8; the
		// other coefficients add nothing to it, so they need no work.
		dst[0] = clamp128((b[0]*qt[0] + 4) >> 3)
		return nil
	}
	if bw == 2 && bh == 2 {
		idct2x2(b, qt, dst, stride)
		return nil
	}
	for zig := 0; zig < blockSize; zig++ {
		b[unzig[zig]] *= qt[zig]
	}
	if bw < 8 || bh < 8 {
		idctReduced(b, bw, bh, dst, stride)
		return nil
	}
	idct(b)
	// Level shift by +128, clip to [0, 255], and write to dst.
	for y := 0; y < 8; y++ {
		y8 := y * 8
		yStride := y * stride
		for x := 0; x < 8; x++ {
			dst[yStride+x] = clamp128(b[y8+x])
		}
	}
	return nil
}

// blockDst returns where the pixels of block (bx, by) of component
// compIndex go, and the stride.
func (d *decoder) blockDst(bx, by, compIndex int) ([]byte, int, error) {
	if compIndex >= maxComponents {
		return nil, 0, UnsupportedError("too many components")
	}
	bw, bh := d.blockW[compIndex], d.blockH[compIndex]
	stride := d.planeStride[compIndex]
	return d.plane[compIndex][bh*by*stride+bw*bx:], stride, nil
}

// clamp128 level shifts c by +128 and clips it to [0, 255].
func clamp128(c int32) uint8 {
	if c < -128 {
		return 0
	} else if c > 127 {
		return 255
	}
	return uint8(c + 128)
}

// findRST advances past the next RST restart marker that matches expectedRST.
// Other than I/O errors, it is also an error if we encounter an {0xFF, M}
// two-byte marker sequence where M is not 0x00, 0xFF or the expectedRST.
//
// This is similar to libjpeg's jdmarker.c's next_marker function.
// https://github.com/libjpeg-turbo/libjpeg-turbo/blob/2dfe6c0fe9e18671105e94f7cbf044d4a1d157e6/jdmarker.c#L892-L935
//
// Precondition: d.tmp[:2] holds the next two bytes of JPEG-encoded input
// (input in the d.readFull sense).
func (d *decoder) findRST(expectedRST uint8) error {
	for {
		// i is the index such that, at the bottom of the loop, we read 2-i
		// bytes into d.tmp[i:2], maintaining the invariant that d.tmp[:2]
		// holds the next two bytes of JPEG-encoded input. It is either 0 or 1,
		// so that each iteration advances by 1 or 2 bytes (or returns).
		i := 0

		if d.tmp[0] == 0xff {
			if d.tmp[1] == expectedRST {
				return nil
			} else if d.tmp[1] == 0xff {
				i = 1
			} else if d.tmp[1] != 0x00 {
				// libjpeg's jdmarker.c's jpeg_resync_to_restart does something
				// fancy here, treating RST markers within two (modulo 8) of
				// expectedRST differently from RST markers that are 'more
				// distant'. Until we see evidence that recovering from such
				// cases is frequent enough to be worth the complexity, we take
				// a simpler approach for now. Any marker that's not 0x00, 0xff
				// or expectedRST is a fatal FormatError.
				return FormatError("bad RST marker")
			}

		} else if d.tmp[1] == 0xff {
			d.tmp[0] = 0xff
			i = 1
		}

		if err := d.readFull(d.tmp[i:2]); err != nil {
			return err
		}
	}
}
