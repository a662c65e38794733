// Package idx decodes the IDX files of MNIST and Fashion-MNIST: unsigned
// byte arrays with a big-endian header of dimensions.
package idx

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrFormat is returned for data that is not an unsigned-byte IDX file.
var ErrFormat = errors.New("not an unsigned-byte IDX file")

// maxValues bounds what a header may declare, so a corrupt header cannot
// make Decode allocate without limit.
const maxValues = 1 << 31

// Array is a decoded IDX array.
type Array struct {
	Dims []int
	Data []byte
}

// Decode reads an IDX array of unsigned bytes.
func Decode(r io.Reader) (*Array, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if head[0] != 0 || head[1] != 0 || head[2] != 0x08 {
		return nil, fmt.Errorf("%w: magic %x", ErrFormat, head)
	}
	nd := int(head[3])
	if nd < 1 || nd > 4 {
		return nil, fmt.Errorf("%w: %d dimensions", ErrFormat, nd)
	}
	a := &Array{Dims: make([]int, nd)}
	total := int64(1)
	for i := range a.Dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
		}
		a.Dims[i] = int(d)
		total *= int64(d)
		if total > maxValues {
			return nil, fmt.Errorf("%w: declares more than %d values", ErrFormat, maxValues)
		}
	}
	// Read in chunks so that a header declaring more than the file holds
	// fails at the end of the data, not at a huge allocation.
	var data []byte
	buf := make([]byte, 1<<20)
	for int64(len(data)) < total {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), total-int64(len(data)))])
		data = append(data, buf[:n]...)
		if err != nil {
			return nil, fmt.Errorf("%w: %d of %d values: %v", ErrFormat, len(data), total, err)
		}
	}
	a.Data = data
	return a, nil
}

// ReadFile decodes the IDX file at path, gunzipping a ".gz" file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	a, err := Decode(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return a, nil
}
