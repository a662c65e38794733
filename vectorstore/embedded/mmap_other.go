//go:build !unix

package embedded

import "os"

// mapFile reads a whole file into memory where mmap is not available here.
func mapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}

// release does nothing: the file was read into the heap.
func release([]byte) {}
