//go:build unix

package embedded

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a whole file read-only and shared, so that every process
// reading it shares one copy in the page cache.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 {
		return nil, func() error { return nil }, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return data, func() error { return unix.Munmap(data) }, nil
}

// release tells the kernel that a scanned range of a mapping is not needed
// again soon: its pages leave this process's resident set and stay in the
// page cache, so a scan of a large segment does not grow the process.
func release(b []byte) {
	if len(b) > 0 {
		unix.Madvise(b, unix.MADV_DONTNEED)
	}
}
