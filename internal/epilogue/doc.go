// Package epilogue holds the passes a convolution's product goes through
// after its matrix product, while the product is still in the cache: add
// the channel's bias, clamp at a floor (0 for ReLU, -Inf for none), and
// the 2x2, stride-2 max-pool that follows every convolution of the
// compact backbone; and the transpose of a product that comes out a
// position a row into a channel a row.
//
// Each pass is AVX2 assembly on amd64 CPUs that have it (checked at run
// time with golang.org/x/sys/cpu), eight values (or an 8x8 block) at a
// time, and pure Go for the rest of a row, on other CPUs and
// architectures, and with the purego build tag.
//
// Caveat: the assembly's max returns its second operand when either is
// NaN, Go's max returns NaN; the two agree on every input without NaN.
package epilogue
