//go:build !purego

package embedded

import "golang.org/x/sys/cpu"

var haveAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotBlockAVX2 is dotBlockGeneric for n rows of d values, in AVX2 and FMA.
//
//go:noescape
func dotBlockAVX2(q, rows *float32, d, n int, out *float32)

// dotCodesAVX2 is dotCodesGeneric for n rows of d codes, in AVX2 and FMA.
//
//go:noescape
func dotCodesAVX2(q *float32, codes *int8, d, n int, out *float32)

func dotBlockKernel(q, rows, out []float32) {
	if haveAVX2FMA {
		dotBlockAVX2(&q[0], &rows[0], len(q), len(out), &out[0])
		return
	}
	dotBlockGeneric(q, rows, out)
}

func dotCodesKernel(q []float32, codes []int8, out []float32) {
	if haveAVX2FMA {
		dotCodesAVX2(&q[0], &codes[0], len(q), len(out), &out[0])
		return
	}
	dotCodesGeneric(q, codes, out)
}
