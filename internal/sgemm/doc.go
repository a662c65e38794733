// Package sgemm multiplies float32 matrices in pure Go (with Go assembly
// where the CPU allows) and leaves every other BLAS routine to gonum. It is
// the default build's BLAS for the fast forward pass and for gorgonia; a
// build with the openblas tag uses OpenBLAS instead (internal/openblas).
//
// Sgemm follows the usual blocked design: op(B) is packed into panels of
// NR = 16 columns and op(A) into panels of MR = 6 rows, in blocks of KC
// steps of k that stay in the L1 and L2 caches, and a 6x16 micro-kernel
// multiplies one A panel by one B panel into registers, then applies alpha
// and beta as it stores. Packing reads any transpose and leading dimension,
// so the kernel only ever sees one layout. Tiles at the right and bottom
// edges go through a 6x16 scratch tile.
//
// The micro-kernel is AVX2+FMA assembly on amd64 CPUs that have both
// (checked at run time), and a pure-Go kernel on the same packed panels
// everywhere else, or with the purego build tag. There is no AVX-512 kernel:
// the machines this was written on lack AVX-512, and untested assembly is
// not shipped.
//
// Large products are split across goroutines, but only onto cores no other
// Sgemm call is using: callers that already run one multiplication per
// core (the forward pass splits a batch across workers) get no extra
// goroutines, and a lone call uses every core.
package sgemm
