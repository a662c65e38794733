package imageio

import (
	"encoding/binary"
	"image"

	"github.com/deeprank/deeprank/imageio/internal/heifwasm"
)

// HEIC and AVIF, what phones write, are decoded by libheif with libde265
// and by libavif with libaom, compiled to WebAssembly and run by wazero
// (package heifwasm): pure Go, no cgo, their memory outside the Go heap and
// given back after each decode. libheif turns a HEIC upright itself;
// libavif leaves an AVIF's rotation and mirroring to the caller
// (avifOrientation). They are told apart by their ftyp box here, before
// image.DecodeConfig, so that neither the gen2brain packages' own decoders
// (registered with package image by their init) nor their second copy of
// each module ever run.

// heifFormat is "heic" or "avif" for an ISOBMFF file whose ftyp box names
// one of those brands (a major brand of heic, heix, heim or heis; of avif
// or avis; or the generic mif1 or msf1 with avif or avis among the
// compatible brands for AVIF, HEIC otherwise), and "" for any other data.
func heifFormat(head []byte) string {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return ""
	}
	switch string(head[8:12]) {
	case "heic", "heix", "heim", "heis":
		return "heic"
	case "avif", "avis":
		return "avif"
	case "mif1", "msf1":
		if heifIsAVIF(head) {
			return "avif"
		}
		return "heic"
	}
	return ""
}

// heifIsAVIF reports whether an ISOBMFF file's ftyp box lists the AVIF
// brand among its compatible ones.
func heifIsAVIF(head []byte) bool {
	if len(head) < 16 {
		return false
	}
	size := min(int(binary.BigEndian.Uint32(head)), len(head))
	for i := 16; i+4 <= size; i += 4 {
		if b := string(head[i : i+4]); b == "avif" || b == "avis" {
			return true
		}
	}
	return false
}

// heifConfig reads the header of a HEIC or AVIF (format as heifFormat).
func heifConfig(data []byte, format string) (image.Config, error) {
	if format == "avif" {
		return heifwasm.AVIFConfig(data)
	}
	return heifwasm.HEICConfig(data)
}

// decodeHEIF decodes a HEIC or AVIF (format as heifFormat) upright.
func decodeHEIF(data []byte, format string) (image.Image, error) {
	if format == "heic" {
		img, err := heifwasm.DecodeHEIC(data)
		return img.Image, err
	}
	img, err := heifwasm.DecodeAVIF(data)
	if err != nil {
		return nil, err
	}
	rotate, mirror := avifOrientation(data)
	return orient(orient(img.Image, rotate), mirror), nil
}

// avifOrientation is the EXIF orientations (see orient) that turn an AVIF
// upright, in the order to apply them: its primary item's rotation (irot)
// and then its mirroring (imir), each 1 when absent. Boxes it cannot
// read leave the image as stored.
func avifOrientation(data []byte) (rotate, mirror int) {
	rotate, mirror = 1, 1
	meta, ok := findBox(data, "meta")
	if !ok || len(meta) < 4 {
		return
	}
	meta = meta[4:] // a full box: version and flags
	pitm, ok := findBox(meta, "pitm")
	if !ok || len(pitm) < 6 {
		return
	}
	primary := uint32(binary.BigEndian.Uint16(pitm[4:]))
	if pitm[0] != 0 {
		if len(pitm) < 8 {
			return
		}
		primary = binary.BigEndian.Uint32(pitm[4:])
	}
	iprp, ok := findBox(meta, "iprp")
	if !ok {
		return
	}
	ipco, ok := findBox(iprp, "ipco")
	if !ok {
		return
	}
	var props []box
	walkBoxes(ipco, func(b box) bool { props = append(props, b); return true })
	ipma, ok := findBox(iprp, "ipma")
	if !ok {
		return
	}
	for _, index := range itemProperties(ipma, primary) {
		if index < 1 || index > len(props) || len(props[index-1].body) < 1 {
			continue
		}
		p := props[index-1]
		switch p.kind {
		case "irot": // quarter turns anticlockwise
			rotate = [4]int{1, 8, 3, 6}[p.body[0]&3]
		case "imir": // libavif's mode: 0 top to bottom, 1 left to right
			mirror = [2]int{4, 2}[p.body[0]&1]
		}
	}
	return
}

// itemProperties lists the property indices (1-based into ipco) that an
// ipma box associates with item, in its order.
func itemProperties(ipma []byte, item uint32) []int {
	if len(ipma) < 8 {
		return nil
	}
	version, flags := ipma[0], ipma[3]
	n := binary.BigEndian.Uint32(ipma[4:])
	p := ipma[8:]
	for range n {
		var id uint32
		if version < 1 {
			if len(p) < 3 {
				return nil
			}
			id, p = uint32(binary.BigEndian.Uint16(p)), p[2:]
		} else {
			if len(p) < 5 {
				return nil
			}
			id, p = binary.BigEndian.Uint32(p), p[4:]
		}
		count := int(p[0])
		p = p[1:]
		width := 1
		if flags&1 != 0 {
			width = 2
		}
		if len(p) < count*width {
			return nil
		}
		if id == item {
			out := make([]int, count)
			for i := range count {
				if width == 2 {
					out[i] = int(binary.BigEndian.Uint16(p[2*i:]) & 0x7fff)
				} else {
					out[i] = int(p[i] & 0x7f)
				}
			}
			return out
		}
		p = p[count*width:]
	}
	return nil
}

// box is an ISOBMFF box: its four-letter type and its body.
type box struct {
	kind string
	body []byte
}

// walkBoxes calls fn on each box laid end to end in data, until fn returns
// false or a box does not fit.
func walkBoxes(data []byte, fn func(box) bool) {
	for len(data) >= 8 {
		size, head := uint64(binary.BigEndian.Uint32(data)), uint64(8)
		switch size {
		case 0: // to the end
			size = uint64(len(data))
		case 1:
			if len(data) < 16 {
				return
			}
			size, head = binary.BigEndian.Uint64(data[8:]), 16
		}
		if size < head || size > uint64(len(data)) {
			return
		}
		if !fn(box{string(data[4:8]), data[head:size]}) {
			return
		}
		data = data[size:]
	}
}

// findBox returns the body of the first box of a kind in data.
func findBox(data []byte, kind string) (body []byte, ok bool) {
	walkBoxes(data, func(b box) bool {
		if b.kind == kind {
			body, ok = b.body, true
		}
		return !ok
	})
	return body, ok
}
