package heifwasm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// ErrDecode is returned when libheif or libavif refuses the data.
var ErrDecode = errors.New("not a HEIC or AVIF image the decoder reads")

// instance is one module instance, with the memory that backs it. Close
// unmaps the memory: nothing read from it may be kept beyond.
type instance struct {
	ctx context.Context
	mod api.Module
	mem linearMemory
}

// instantiate makes a new instance of a compiled module, its linear memory
// outside the Go heap.
func instantiate(module func() (wazero.CompiledModule, error)) (*instance, error) {
	cm, err := module()
	if err != nil {
		return nil, err
	}
	in := &instance{}
	var once sync.Once
	alloc := experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		once.Do(func() { in.mem = newLinearMemory(max) })
		return in.mem
	})
	in.ctx = experimental.WithMemoryAllocator(context.Background(), alloc)
	// Anonymous, so that instances can live side by side.
	in.mod, err = runtime().InstantiateModule(in.ctx, cm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		if in.mem != nil {
			in.mem.Free()
		}
		return nil, fmt.Errorf("heifwasm: instantiate module: %w", err)
	}
	return in, nil
}

func (in *instance) Close() { in.mod.Close(in.ctx) }

// call calls an exported function that returns one value.
func (in *instance) call(name string, args ...uint64) (uint64, error) {
	f := in.mod.ExportedFunction(name)
	if f == nil {
		return 0, fmt.Errorf("heifwasm: the module exports no %s", name)
	}
	res, err := f.Call(in.ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("heifwasm: %s: %w", name, err)
	}
	if len(res) != 1 {
		return 0, fmt.Errorf("heifwasm: %s returned %d values", name, len(res))
	}
	return res[0], nil
}

// malloc allocates n bytes in the instance's memory; free is not needed,
// since the whole memory goes with the instance.
func (in *instance) malloc(n int) (uint32, error) {
	p, err := in.call("malloc", uint64(n))
	if err == nil && p == 0 {
		err = fmt.Errorf("heifwasm: out of memory allocating %d bytes", n)
	}
	return uint32(p), err
}

// put copies data into the instance's memory.
func (in *instance) put(data []byte) (uint32, error) {
	p, err := in.malloc(len(data))
	if err != nil {
		return 0, err
	}
	if !in.mod.Memory().Write(p, data) {
		return 0, errors.New("heifwasm: write outside the module's memory")
	}
	return p, nil
}

// view is n bytes of the instance's memory at p, valid until Close.
func (in *instance) view(p uint32, n int) ([]byte, error) {
	if n < 0 || uint64(n) >= 1<<32 {
		return nil, errors.New("heifwasm: read outside the module's memory")
	}
	b, ok := in.mod.Memory().Read(p, uint32(n))
	if !ok {
		return nil, errors.New("heifwasm: read outside the module's memory")
	}
	return b, nil
}

// u32s reads n little-endian uint32 at p.
func (in *instance) u32s(p uint32, n int) ([]uint32, error) {
	b, err := in.view(p, 4*n)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out, nil
}

// start instantiates module, copies data into it and calls the module's
// decode(in, size, config_only, flags..., field pointers..., out) for the
// header: the header's fields are the first four bytes of each of fields
// slots (the last has eight). It returns the instance, the fields, and
// decode to call again with config_only 0 and out. On error the instance
// is closed.
func start(module func() (wazero.CompiledModule, error), format string, data []byte, fields int, flags ...uint64) (in *instance, header []uint32, decode func(configOnly uint64, out uint32) error, err error) {
	inst, err := instantiate(module)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			inst.Close()
		}
	}()
	in = inst
	src, err := in.put(data)
	if err != nil {
		return nil, nil, nil, err
	}
	slots, err := in.malloc(4*fields + 4)
	if err != nil {
		return nil, nil, nil, err
	}
	decode = func(configOnly uint64, out uint32) error {
		args := append([]uint64{uint64(src), uint64(len(data)), configOnly}, flags...)
		for i := range fields {
			args = append(args, uint64(slots)+4*uint64(i))
		}
		ok, err := in.call("decode", append(args, uint64(out))...)
		if err == nil && ok == 0 {
			err = fmt.Errorf("%s: %w", format, ErrDecode)
		}
		return err
	}
	if err = decode(1, 0); err != nil {
		return nil, nil, nil, err
	}
	if header, err = in.u32s(slots, fields); err != nil {
		return nil, nil, nil, err
	}
	return in, header, decode, nil
}

// output allocates size bytes, decodes into them with decode (start's),
// and returns them, valid until Close.
func (in *instance) output(size int, decode func(configOnly uint64, out uint32) error) ([]byte, error) {
	out, err := in.malloc(size)
	if err != nil {
		return nil, err
	}
	if err := decode(0, out); err != nil {
		return nil, err
	}
	return in.view(out, size)
}

// checkSize refuses dimensions whose pixels would not fit the module's
// 32-bit memory, before anything is allocated for them.
func checkSize(w, h uint32, bytesPerPixel int) error {
	if w == 0 || h == 0 || uint64(w)*uint64(h)*uint64(bytesPerPixel) >= 1<<32 {
		return fmt.Errorf("%w: %dx%d pixels", ErrDecode, w, h)
	}
	return nil
}

// The most memory a decode holds in its module, as a fixed part and bytes
// per pixel: libaom and libavif at 8 bits held 20.8 bytes a pixel
// decoding a 12 MP photo and 9 MB for 720x360, libheif and libde265 6.9 and
// 2 MB (TestCameraMemory, TestHEIC).
const (
	memoryBase         = 4 << 20
	avifMemoryPerPixel = 24
	heicMemoryPerPixel = 8
)

// AVIFMemory bounds the memory DecodeAVIF holds for a w x h image besides
// the Go image it returns (4 bytes a pixel, 8 over 8 bits).
func AVIFMemory(w, h int) int64 { return memoryBase + avifMemoryPerPixel*int64(w)*int64(h) }

// HEICMemory bounds the memory DecodeHEIC holds for a w x h image besides
// the Go image it returns (at most 4 bytes a pixel).
func HEICMemory(w, h int) int64 { return memoryBase + heicMemoryPerPixel*int64(w)*int64(h) }

// Image is a decoded image and the most bytes the decoder's memory held
// for it.
type Image struct {
	image.Image
	PeakMemory int64
}

// DecodeAVIF decodes the first frame of an AVIF. Rotation and mirroring are
// left to the caller, as libavif leaves them.
func DecodeAVIF(data []byte) (Image, error) { return runAVIF(data, false) }

// AVIFConfig reads an AVIF's size and colour model.
func AVIFConfig(data []byte) (image.Config, error) {
	img, err := runAVIF(data, true)
	if err != nil {
		return image.Config{}, err
	}
	b := img.Bounds()
	return image.Config{ColorModel: img.ColorModel(), Width: b.Dx(), Height: b.Dy()}, nil
}

// runAVIF calls the module's
// decode(in, size, config_only, decode_all, *width, *height, *depth, *count, delay, out):
// once for the header, then, unless configOnly, to decode into out as
// RGBA, premultiplied, 8 bits a channel or, for depth > 8, 16 little-endian.
// For configOnly the image is empty, of the right bounds and model.
func runAVIF(data []byte, configOnly bool) (Image, error) {
	// width, height, depth, count, and the first frame's duration (8 bytes)
	in, f, decode, err := start(avifModule, "avif", data, 5, 0)
	if err != nil {
		return Image{}, err
	}
	defer in.Close()
	w, h, deep := f[0], f[1], f[2] > 8
	bpp := 4
	if deep {
		bpp = 8
	}
	if err := checkSize(w, h, bpp); err != nil {
		return Image{}, fmt.Errorf("avif: %w", err)
	}
	rect := image.Rect(0, 0, int(w), int(h))
	if configOnly {
		if deep {
			return Image{Image: &image.RGBA64{Rect: rect}}, nil
		}
		return Image{Image: &image.RGBA{Rect: rect}}, nil
	}
	size := int(w) * int(h) * bpp
	pix, err := in.output(size, decode)
	if err != nil {
		return Image{}, err
	}
	peak := in.mem.peak()
	if !deep {
		img := image.NewRGBA(rect)
		copy(img.Pix, pix)
		return Image{img, peak}, nil
	}
	img := image.NewRGBA64(rect)
	for i := 0; i < size; i += 2 { // little-endian to Go's big-endian
		img.Pix[i], img.Pix[i+1] = pix[i+1], pix[i]
	}
	return Image{img, peak}, nil
}

// heicHeaderBytes is how much of a HEIC HEICConfig reads: libheif finds
// the size in the boxes before the image data.
const heicHeaderBytes = 32 << 10

// The module's colour spaces and chroma formats (libheif's enums).
const (
	heifYCbCr      = 0
	heifRGB        = 1
	heifMonochrome = 2

	heifChroma420 = 1
	heifChroma422 = 2
	heifChroma444 = 3
)

// DecodeHEIC decodes a HEIC's primary image, turned upright (libheif applies
// its rotation and mirroring).
func DecodeHEIC(data []byte) (Image, error) { return runHEIC(data, false) }

// HEICConfig reads a HEIC's size and colour model.
func HEICConfig(data []byte) (image.Config, error) {
	img, err := runHEIC(data[:min(len(data), heicHeaderBytes)], true)
	if err != nil {
		return image.Config{}, err
	}
	b := img.Bounds()
	return image.Config{ColorModel: img.ColorModel(), Width: b.Dx(), Height: b.Dy()}, nil
}

// runHEIC calls the module's
// decode(in, size, config_only, *width, *height, *colorspace, *chroma, *premultiplied, out),
// which writes into out the planes of the colour space it prefers, each row
// padded to 16 bytes: Y, Cb and Cr; or grey; or RGBA.
func runHEIC(data []byte, configOnly bool) (Image, error) {
	// width, height, colour space, chroma, premultiplied
	in, f, decode, err := start(heicModule, "heic", data, 5)
	if err != nil {
		return Image{}, err
	}
	defer in.Close()
	w, h, space, chroma, premultiplied := int(f[0]), int(f[1]), f[2], f[3], f[4] == 1
	if err := checkSize(f[0], f[1], 4); err != nil {
		return Image{}, fmt.Errorf("heic: %w", err)
	}
	rect := image.Rect(0, 0, w, h)
	align := func(n int) int { return (n + 15) &^ 15 }
	var img image.Image
	var planes [][]byte // where the module's planes go, in its order
	switch space {
	case heifYCbCr:
		ratio, cw, ch := image.YCbCrSubsampleRatio444, w, h
		switch chroma {
		case heifChroma420:
			ratio, cw, ch = image.YCbCrSubsampleRatio420, (w+1)/2, (h+1)/2
		case heifChroma422:
			ratio, cw = image.YCbCrSubsampleRatio422, (w+1)/2
		case heifChroma444:
		default:
			return Image{}, fmt.Errorf("heic: %w: chroma format %d", ErrDecode, chroma)
		}
		yc := &image.YCbCr{Rect: rect, SubsampleRatio: ratio, YStride: align(w), CStride: align(cw)}
		if !configOnly {
			yc.Y = make([]byte, yc.YStride*h)
			yc.Cb = make([]byte, yc.CStride*ch)
			yc.Cr = make([]byte, yc.CStride*ch)
		}
		img, planes = yc, [][]byte{yc.Y, yc.Cb, yc.Cr}
	case heifMonochrome:
		g := &image.Gray{Rect: rect, Stride: align(w)}
		if !configOnly {
			g.Pix = make([]byte, g.Stride*h)
		}
		img, planes = g, [][]byte{g.Pix}
	case heifRGB:
		pix, stride := []byte(nil), align(4*w)
		if !configOnly {
			pix = make([]byte, stride*h)
		}
		if premultiplied {
			img = &image.RGBA{Pix: pix, Stride: stride, Rect: rect}
		} else {
			img = &image.NRGBA{Pix: pix, Stride: stride, Rect: rect}
		}
		planes = [][]byte{pix}
	default:
		return Image{}, fmt.Errorf("heic: %w: colour space %d", ErrDecode, space)
	}
	if configOnly {
		return Image{Image: img}, nil
	}
	size := 0
	for _, p := range planes {
		size += len(p)
	}
	pix, err := in.output(size, decode)
	if err != nil {
		return Image{}, err
	}
	for _, p := range planes {
		pix = pix[copy(p, pix):]
	}
	return Image{img, in.mem.peak()}, nil
}
