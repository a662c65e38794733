package sgemm

// packA copies rows x depth of op(A) into dst as panels of mr rows, each
// panel depth steps of mr values (the kernel broadcasts them one by one).
func packA(dst []float32, A matrix, rows, depth int) {
	pack(dst, A.data, A.ld, A.trans, rows, depth, mr)
}

// packB copies depth x cols of op(B) into dst as panels of nr columns, each
// panel depth steps of nr values (the kernel loads them as two vectors).
func packB(dst []float32, B matrix, depth, cols int) {
	pack(dst, B.data, B.ld, !B.trans, cols, depth, nr)
}

// pack lays out lines (rows of op(A) or columns of op(B)) in panels of
// width lines: panel[p*width+i] is step p of line i0+i. When runs is set,
// step p of consecutive lines is contiguous in data (data[p*ld+i]), so a
// panel step is one copy; otherwise each line is contiguous (data[i*ld+p])
// and is scattered across the steps. Lines past the last are zero, so an
// edge panel multiplies like a full one.
func pack(dst, data []float32, ld int, runs bool, lines, depth, width int) {
	for i0 := 0; i0 < lines; i0 += width {
		panel := dst[i0*depth : (i0+width)*depth]
		w := min(width, lines-i0)
		if w < width {
			clear(panel)
		}
		if runs && w == nr {
			// A whole panel of B: a fixed-size copy compiles to four vector
			// moves where copy would call memmove for 64 bytes.
			for p := range depth {
				*(*[nr]float32)(panel[p*nr:]) = *(*[nr]float32)(data[p*ld+i0:])
			}
			continue
		}
		if runs {
			for p := range depth {
				copy(panel[p*width:p*width+w], data[p*ld+i0:p*ld+i0+w])
			}
			continue
		}
		for i := range w {
			line := data[(i0+i)*ld : (i0+i)*ld+depth]
			for p, v := range line {
				panel[p*width+i] = v
			}
		}
	}
}
