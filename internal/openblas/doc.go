// Package openblas multiplies float32 matrices with the system's OpenBLAS
// (cblas_sgemm) and leaves every other BLAS routine to gonum. Its code is
// built only with the openblas build tag (without it the package is empty),
// which needs the OpenBLAS headers and library (Debian: libopenblas-dev);
// the default build stays pure Go.
//
// OpenBLAS runs single-threaded here: deeprank already splits its work
// across goroutines, and OpenBLAS threads would fight them for the cores.
package openblas
