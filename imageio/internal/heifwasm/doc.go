// Package heifwasm decodes HEIC and AVIF images by running the WebAssembly
// builds of libheif (with libde265) and libavif (with libaom) that
// github.com/gen2brain/heic and github.com/gen2brain/avif embed, under
// wazero: pure Go, no cgo.
//
// Those packages' own decoders grow each module's linear memory as a Go
// slice: every growth copies it, the garbage waits for the collector, and
// the image they return points into it (after freeing it: malloc's
// bookkeeping overwrites its first bytes). Decoding a 12-megapixel AVIF
// took 800 MB of resident memory, where libaom itself needs 242 MB. Here
// the same modules run with their linear memory mapped outside the Go heap
// (reserved once at its largest, committed as it grows, never copied) and
// unmapped as soon as the decode is done, after the pixels are copied into
// a Go image. Each decode has its own module instance, so decodes may run
// concurrently; callers that share a memory budget count AVIFMemory or
// HEICMemory for each.
//
// The modules are the ones of the gen2brain versions pinned in go.mod,
// taken through go:linkname (modules.go): their decode functions' calling
// conventions are mirrored here, and TestModulesPinned fails when an
// update changes them.
package heifwasm
