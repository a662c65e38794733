// Package jpegscale decodes JPEG images directly at a reduced size: 1/2,
// 1/4 or 1/8 of their width and height, as libjpeg's DCT scaling does.
//
// It is a fork of the Go standard library's image/jpeg decoder (Go 1.26;
// BSD licence, see the LICENSE file in this folder): the marker parsing,
// Huffman decoding, progressive and restart handling are the standard
// library's, so the package accepts and refuses exactly the inputs that
// image/jpeg.Decode does. Only the last step differs: each 8x8 block of
// coefficients becomes 8/scale x 8/scale pixels, each the mean of the
// pixels the full inverse DCT would give in its place. At 1/8 that mean is
// the block's DC coefficient alone, so no inverse DCT runs at all; at 1/2
// and 1/4 a reduced inverse DCT folds all 64 coefficients into the area
// averages. The entropy decoding still reads every coefficient, so the
// saving is the inverse DCT, the colour planes' memory (1/scale² of it) and
// everything downstream that touches pixels.
//
// Caveats: the averages are of the unclipped inverse DCT, so in areas
// clipped at black or white, and at a right or bottom edge whose last block
// is partly padding, a reduced pixel can differ by a few levels from the
// average of a full decode. The encoder is not forked: use image/jpeg.
package jpegscale
