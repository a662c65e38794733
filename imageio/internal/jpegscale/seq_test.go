package jpegscale

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// huffTables returns every Huffman table (class, destination) defined by
// the DHT segment body seg, or an error where processDHT refuses it.
func huffTables(seg []byte) (map[[2]int]*huffman, error) {
	d := &decoder{r: bytes.NewReader(seg)}
	if err := d.processDHT(len(seg)); err != nil {
		return nil, err
	}
	out := map[[2]int]*huffman{}
	for tc := range d.huff {
		for th := range d.huff[tc] {
			if h := &d.huff[tc][th]; h.nCodes > 0 {
				out[[2]int{tc, th}] = h
			}
		}
	}
	return out, nil
}

// dhtSegments returns the DHT segment bodies of a JPEG file.
func dhtSegments(data []byte) [][]byte {
	var segs [][]byte
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			break
		}
		marker, n := data[i+1], int(data[i+2])<<8|int(data[i+3])
		if marker == sosMarker || i+2+n > len(data) {
			break
		}
		if marker == dhtMarker {
			segs = append(segs, data[i+4:i+2+n])
		}
		i += 2 + n
	}
	return segs
}

// slowSymbol decodes one code of h and its extra bits from the 32 bits of
// a (most significant first) with d's bit reader, the standard library's way, decodeHuffman
// then receiveExtend: the code's length, its value, the extended extra
// bits and all bits taken. ok is false where decodeHuffman fails.
func slowSymbol(d *decoder, h *huffman, a uint32, dc bool) (code int, value uint8, ext int32, total int, ok bool) {
	d.bits = bits{a: uint64(a), n: 32}
	value, err := d.decodeHuffman(h)
	if err != nil {
		return 0, 0, 0, 0, false
	}
	code = 32 - int(d.bits.n)
	size := value & 0x0f
	if dc {
		if value > 16 {
			return code, value, 0, code, true
		}
		size = value
	}
	if size > 0 {
		ext, _ = d.receiveExtend(size)
	}
	return code, value, ext, 32 - int(d.bits.n), true
}

// checkFast checks h.fast and h.skip against slowSymbol on every prefix
// they cover, followed by the bits of rest, and returns the first
// disagreement.
func checkFast(h *huffman, dc bool, rest uint32) error {
	d := &decoder{}
	for p := range h.fast {
		e := h.fast[p]
		if e == 0 {
			continue
		}
		a := uint32(p)<<(32-fastBits) | rest>>fastBits
		code, value, ext, total, ok := slowSymbol(d, h, a, dc)
		if !ok {
			return fmt.Errorf("fast[%#x] = %#x, but the code does not decode", p, e)
		}
		run := e >> fastRunShift & fastRunMask
		got := fmt.Sprintf("code %d run %d", e>>fastCodeShift&fastCodeMask, run)
		want := fmt.Sprintf("code %d run %d", code, value>>4)
		switch {
		case dc:
			got += fmt.Sprintf(" value %d bits %d", e>>16, e&fastLenMask)
			want = fmt.Sprintf("code %d run 0 value %d bits %d", code, ext, total)
		case value == 0x00:
			got += fmt.Sprintf(" coef %v", e&fastCoef != 0)
			want = fmt.Sprintf("code %d run %d coef false", code, fastEOBRun)
		case value == 0xf0:
			got += fmt.Sprintf(" coef %v bits %d", e&fastCoef != 0, e&fastLenMask)
			want = fmt.Sprintf("code %d run 15 coef false bits %d", code, code)
		default:
			got += fmt.Sprintf(" coef %v value %d bits %d", e&fastCoef != 0, e>>16, e&fastLenMask)
			want += fmt.Sprintf(" coef true value %d bits %d", ext, total)
		}
		if got != want {
			return fmt.Errorf("fast[%#x] = %#x: %s, the slow decode %s", p, e, got, want)
		}
	}
	if dc || !h.skipReady {
		return nil
	}
	for p := range h.skip {
		s := h.skip[p]
		// Walk the codes one by one from the same bits, as far as they
		// fit in the window and the block: the entry must take each.
		a := uint32(p)<<(32-skipBits) | rest>>skipBits
		pos, adv, end := 0, 0, false
		for {
			code, value, _, total, ok := slowSymbol(d, h, a<<pos, false)
			if !ok || (value&0x0f == 0 && value != 0x00 && value != 0xf0) {
				break // no code, or an end of band
			}
			if value == 0x00 {
				if pos+code <= skipBits {
					pos += code
					adv++
					end = true
				}
				break
			}
			if pos+total > skipBits || adv+int(value>>4)+1 > blockSize {
				break
			}
			pos += total
			adv += int(value>>4) + 1
		}
		need := adv
		if pos == 0 {
			need = skipNoRoom
		}
		if s>>skipNeedShift&^(skipEnd>>skipNeedShift|skipNeedMask) != 0 || s&skipLenMask > skipBits {
			return fmt.Errorf("skip[%#x] = %#x: bits outside its fields", p, s)
		}
		got := fmt.Sprintf("bits %d need %d end %v", s&skipLenMask, s>>skipNeedShift&skipNeedMask, s&skipEnd != 0)
		want := fmt.Sprintf("bits %d need %d end %v", pos, need, end)
		if got != want && h.prefixFree() {
			return fmt.Errorf("skip[%#x] = %#x: %s, the slow decode %s", p, s, got, want)
		}
		if s != skipNoRoom<<skipNeedShift && !h.prefixFree() {
			return fmt.Errorf("skip[%#x] = %#x for a table whose code lengths overflow", p, s)
		}
	}
	return nil
}

// randomDHT returns a DHT segment body of one valid table of class tc:
// random code lengths that fit (Kraft's inequality) and random values.
func randomDHT(r *rand.Rand, tc int) []byte {
	var counts [16]byte
	room, total := 1.0, 0
	for i := range counts {
		// Fill about half the room left at each length, up to 256 codes.
		k := r.IntN(int(room*float64(uint(1)<<(i+1))/2) + 1)
		k = min(k, 255-total, int(room*float64(uint(1)<<(i+1))))
		counts[i] = byte(k)
		total += k
		room -= float64(k) / float64(uint(1)<<(i+1))
	}
	if total == 0 {
		counts[0], total = 1, 1
	}
	seg := append([]byte{byte(tc << 4)}, counts[:]...)
	for range total {
		v := byte(r.IntN(256))
		if tc == dcTable {
			v = byte(r.IntN(12))
		} else if r.IntN(4) == 0 {
			v = []byte{0x00, 0xf0}[r.IntN(2)]
		}
		seg = append(seg, v)
	}
	return seg
}

// TestFastTables checks the one-look-up tables of the sequential decoder
// (huffman.fast, huffman.skip) against the standard library's decoding,
// code by code, on every bit prefix they cover: the tables of the test
// files (the standard ones of image/jpeg's encoder, libjpeg's optimized
// ones in the standard library's test files) and random valid tables.
func TestFastTables(t *testing.T) {
	type source struct {
		name string
		seg  []byte
	}
	var sources []source
	for _, c := range allCases(t) {
		for i, seg := range dhtSegments(c.data) {
			sources = append(sources, source{fmt.Sprintf("%s/dht%d", c.name, i), seg})
		}
	}
	r := rand.New(rand.NewPCG(3, 3))
	for i := range 200 {
		sources = append(sources, source{fmt.Sprintf("random%d", i), randomDHT(r, i%2)})
	}
	checked := 0
	for _, src := range sources {
		tables, err := huffTables(src.seg)
		if err != nil {
			t.Fatalf("%s: %v", src.name, err)
		}
		for key, h := range tables {
			if key[0] == acTable {
				h.deriveSkip()
			}
			for _, rest := range []uint32{0, 0xffffffff, r.Uint32()} {
				if err := checkFast(h, key[0] == dcTable, rest); err != nil {
					t.Fatalf("%s table %v: %v", src.name, key, err)
				}
			}
			checked++
		}
	}
	if checked < 200 {
		t.Fatalf("checked only %d tables", checked)
	}
}

// FuzzFastTables checks the look-up tables derived from any DHT segment
// (huffman.fast, huffman.skip) against the standard library's decoding.
func FuzzFastTables(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 8 {
		f.Add(randomDHT(r, i%2), uint32(i)*0x9e3779b9)
	}
	for _, c := range generatedCases(f)[:2] {
		for _, seg := range dhtSegments(c.data) {
			f.Add(seg, uint32(0))
		}
	}
	f.Fuzz(func(t *testing.T, seg []byte, rest uint32) {
		tables, err := huffTables(seg)
		if err != nil {
			return
		}
		for key, h := range tables {
			if key[0] == acTable {
				h.deriveSkip()
			}
			if err := checkFast(h, key[0] == dcTable, rest); err != nil {
				t.Fatalf("table %v: %v", key, err)
			}
		}
	})
}

// TestSumTable checks the sequential decoder's reduction to at most 2x2
// pixels straight from the coefficients against the reduced inverse DCT it
// stands in for, on random blocks of sparse and dense coefficients, for
// every block shape it serves: equal but for float rounding (one level).
func TestSumTable(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, shape := range [][2]int{{1, 1}, {2, 1}, {1, 2}, {2, 2}} {
		nx, ny := shape[0], shape[1]
		for _, density := range []float64{0.05, 0.3, 1} {
			for range 1000 {
				var b, qt block // b in zig-zag order
				for i := range b {
					qt[i] = 1 + r.Int32N(60)
					if r.Float64() < density || i == 0 {
						b[i] = r.Int32N(161) - 80
					}
				}
				var st sumTable
				st.make(nx, ny, &qt)
				var p [4]float32
				for zig, c := range b {
					p[st.slot[zig]] += st.weight[zig] * float32(c)
				}
				var got, want [4]byte
				st.write(&p, b[0], got[:], 2)
				var nat block
				for zig, c := range b {
					nat[unzig[zig]] = c * qt[zig]
				}
				idctReduced(&nat, nx, ny, want[:], 2)
				for i := range got {
					if d := int(got[i]) - int(want[i]); d < -1 || d > 1 {
						t.Fatalf("%dx%d, density %g: sums give %v, idctReduced %v", nx, ny, density, got, want)
					}
				}
			}
		}
	}
}
