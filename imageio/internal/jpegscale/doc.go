// Package jpegscale decodes JPEG images directly at a reduced size: 1/2,
// 1/4 or 1/8 of their width and height, as libjpeg's DCT scaling does.
//
// It is a fork of the Go standard library's image/jpeg decoder (Go 1.26;
// BSD licence, see the LICENSE file in this folder): the marker parsing,
// Huffman decoding, progressive and restart handling are the standard
// library's, so the package accepts and refuses exactly the inputs that
// image/jpeg.Decode does, with the same errors, and at scale 1 returns the
// same pixels (FuzzDecode and TestCorruptions hold it to that).
//
// What differs:
//   - Each 8x8 block of coefficients becomes 8/scale x 8/scale pixels, each
//     the mean of the pixels the full inverse DCT would give in its place.
//     At 1/8 that mean is the block's DC coefficient alone, so no inverse
//     DCT runs at all; at 1/2 and 1/4 a reduced inverse DCT folds all 64
//     coefficients into the area averages. Subsampled chroma is reduced
//     less, so 4:2:0 decoded at 1/2 or less comes out 4:4:4 (as in libjpeg).
//   - The entropy decoder reads several bytes at a time where they hold no
//     0xff, and gives back what it read ahead at the end of each scan and
//     restart interval; AC codes and their extra bits are decoded with one
//     table look-up where they fit in 10 bits; progressive blocks are
//     decoded in place. Same bits, same order; baseline photos decode about
//     twice as fast.
//   - Sequential scans go through seqBlock, whose bit reader lives in
//     registers (reg). A block that becomes one pixel (luma at 1/8) needs
//     only its DC coefficient: its AC codes, of any length, are stepped
//     over several at a time (skipBlock, huffman.skip, 13 bits a look-up),
//     their values never computed. A block that becomes at most 2x2 pixels
//     (4:2:0 chroma at 1/8, luma at 1/4) is summed into four partial sums
//     as it is decoded (sumTable), with no block and no inverse DCT. A scan
//     made only of such blocks (a baseline photo at 1/8) keeps the bit
//     reader in registers from block to block (reducedScan). A 12 MP
//     baseline photo decodes at 1/8 about twice as fast as through the
//     general loop, in 134 M instructions against 193 before skipBlock
//     and reducedScan (BenchmarkDecodeCamera under cachegrind).
//   - DecodeBytes reads an input held in memory in place, without copying
//     it through the 4 kB buffer that Decode reads an io.Reader into.
//
// The entropy decoding still reads every code, so at 1/8 it is most of the
// work; a progressive file also keeps every block's coefficients in memory
// until its last scan, and takes the general, slower path.
//
// Caveats: the averages are of the unclipped inverse DCT, so in areas
// clipped at black or white, and at a right or bottom edge whose last block
// is partly padding, a reduced pixel can differ by a few levels from the
// average of a full decode. Neither the encoder nor DecodeConfig is forked:
// use image/jpeg's.
package jpegscale
