// Package sgemm multiplies float32 matrices in pure Go (with Go assembly
// where the CPU allows) and leaves every other BLAS routine to gonum. It is
// the default build's BLAS for the fast forward pass and for gorgonia; a
// build with the openblas tag uses OpenBLAS instead (internal/openblas).
//
// Sgemm follows the usual blocked design, shaped by the network's
// products, where one side is small (16 to 128 filters, a batch of 16) and
// k is tens to a few thousand (hundreds of thousands in gorgonia's weight
// gradients). C is cut into 6x16 tiles; a micro-kernel
// keeps one tile in registers while it walks k in blocks of KC, then
// applies alpha and beta as it stores. op(B) is read in 16-column panels
// that stay in L1: in place where it is not transposed, unless many rows
// of A reuse it and its row stride is a multiple of 2 KiB (such rows
// evict each other from the cache), else from packed copies. A is read in
// place through its strides, whatever its transpose, when C has fewer than
// 512 columns: each value of A then serves few columns, and copying it
// would cost about as much as the product. With wider C, A is packed in
// panels of 6 rows, one contiguous stream for the kernel. Tiles at the
// right and bottom edges read zero-padded copies of their panels and store
// through a scratch tile.
//
// The micro-kernel is AVX2+FMA assembly on amd64 CPUs that have both
// (checked at run time), and a pure-Go kernel on the same panels
// everywhere else, or with the purego build tag. The pure-Go kernel is
// about a third as fast as gonum's Sgemm, which has SSE assembly on amd64:
// it is there for correctness on other CPUs, not speed. There is no
// AVX-512 kernel: the machines this was written on lack AVX-512, and
// untested assembly is not shipped.
//
// Large products are split across goroutines, but only onto cores no other
// Sgemm call is using: callers that already run one multiplication per
// core (the forward pass splits a batch across workers) get no extra
// goroutines, and a lone call uses every core.
package sgemm
