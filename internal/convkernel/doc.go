// Package convkernel multiplies a convolution's filters by its input
// windows without laying the windows out first (an implicit GEMM): row p
// of the product's right-hand side is a run of the padded input image
// itself, found through a table of offsets, one per (channel, kernel row,
// kernel column). For a stride-1 convolution whose input is stored with
// its padding around it, the window cells of consecutive outputs along a
// row are consecutive inputs, so the kernel reads the image where it lies
// and no im2col matrix is ever written.
//
// The filters are packed into panels of Rows filters (PackFilters), the
// product is cut into Rows x Cols tiles that a micro-kernel keeps in
// registers over the whole depth, and there are no edge tiles: the caller
// pads the filters to whole panels (zero filters) and the columns to whole
// tiles (columns it discards). The micro-kernel is AVX2+FMA assembly on
// amd64 CPUs that have both (checked at run time) and pure Go elsewhere or
// with the purego build tag.
package convkernel
