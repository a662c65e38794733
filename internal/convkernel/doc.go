// Package convkernel multiplies a convolution's filters by its input
// windows without laying the windows out first: no im2col matrix is ever
// written. Both products find their operands through a table of offsets,
// one per (channel, kernel row, kernel column):
//
//   - Multiply, an implicit GEMM: row p of the right-hand side is a run of
//     the padded input image itself. For a stride-1 convolution whose
//     input is stored with its padding around it, the window cells of
//     consecutive outputs along a row are consecutive inputs, so the
//     kernel reads the image where it lies. The filters are packed into
//     panels of Rows (PackFilters), the product is cut into Rows x Cols
//     tiles, and the product comes out a filter a row.
//   - MultiplyWindows, for any stride: each output position's window is
//     the image's values at the position's offset plus each of the
//     table's, broadcast one by one against panels of WindowCols filters
//     (PackWindowFilters); the product comes out a position a row.
//
// A micro-kernel keeps a tile in registers over the whole depth, and there
// are no edge tiles: the caller pads the filters to whole panels (zero
// filters) and the columns or positions to whole tiles (ones it
// discards). The micro-kernels are AVX2+FMA assembly on amd64 CPUs that
// have both (checked at run time) and pure Go elsewhere or with the purego
// build tag.
package convkernel
