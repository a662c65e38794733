package embedded

// dot is the dot product of two vectors of one length.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dotBlockGeneric sets out[r] to the dot product of q and row r of rows,
// rows of len(q) values one after another.
func dotBlockGeneric(q, rows, out []float32) {
	d := len(q)
	for r := range out {
		out[r] = dot(q, rows[r*d:(r+1)*d])
	}
}

// dotBlock is dotBlockGeneric on the fastest kernel the CPU has.
func dotBlock(q, rows, out []float32) {
	if len(rows) < len(out)*len(q) {
		panic("embedded: dotBlock: rows shorter than out x len(q)")
	}
	if len(out) == 0 || len(q) == 0 {
		clear(out)
		return
	}
	dotBlockKernel(q, rows, out)
}
