// Package dupes finds near-duplicate images in a vector store collection:
// groups of images whose vectors lie within a distance of each other
// (Find), or the images of one collection that have near-duplicates in
// another (Against).
//
// Groups are the connected components of the graph whose edges are the
// pairs at MaxDistance or nearer, minus the pairs a user marked as distinct
// (Distinct, kept in a small file beside the collection: see Load and
// Distinct.Save). Two images far apart may share a group through a chain
// of near pairs, as a photo and two different crops of it do.
//
// Distances are between images' own vectors (not their variants'), and
// where a model puts a thumbnail or an aspect value after what it learned
// (vectorstore.Spec.Learned), between the learned parts, each scaled back
// to unit length: a thumbnail keeps where things are, so a crop or a
// mirror image moves it.
//
// Nothing here builds an N x N matrix. Two methods, both streamed:
//
//   - Exact compares all pairs exactly. It holds 16,384 vectors of the
//     collection in memory at a time and streams every later vector past
//     them in blocks, which the embedded store lends straight from its
//     mapped files (vectorstore.BlockReader; other stores' vectors are
//     read once into memory). Each block is multiplied with the held
//     vectors on every core, tiles of 504 x 64 at a time (internal/sgemm),
//     keeping only the pairs under the threshold. The product covers only
//     the first dimensions (as few as a quarter): dropping dimensions
//     never lengthens a distance, so a pair too far apart over them is too
//     far apart, and the few pairs that pass are checked over every
//     dimension. The test itself is folded into the product (two more
//     terms a row), so that what is scanned after it is a sign bit. How
//     many dimensions is chosen on a sample of random pairs, for speed;
//     the pairs found are the same. Memory is the held vectors (8 MB at
//     128 dimensions), 32 bytes of ID and 8 of bookkeeping an image (and
//     the embedded store's 10 of index for reading the groups' members),
//     and a block and a tile's products per core; the embedded store's
//     pages are released after each block. It finds every pair: for the
//     embedded store, whose search is exact anyway.
//   - Index asks the store for the nearest Neighbours of each image
//     (Collection.Search, several at once), holding only the IDs (32 bytes
//     an image) and a batch of vectors: for Milvus, whose index answers
//     without reading every vector. A pair is found when one of its images
//     is among the other's Neighbours nearest, so groups of more than
//     Neighbours identical images may split, and an approximate index may
//     miss pairs. Where vectors are partly learned, the search's ranking
//     by learned parts is itself approximate (each is scaled by its
//     image's share), so it asks for at least three times the Neighbours
//     (as many as variants give).
//
// Caveats: the collection should not change while Find runs (a concurrent
// ingest's items may or may not be seen); the suggested keeper is read from
// the files as they are when the groups are made. Nothing is ever deleted or
// moved: Link makes symbolic links for review, beside nothing else.
package dupes
