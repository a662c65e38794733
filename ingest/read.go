package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/deeprank/deeprank/imageio"
)

// Errors of files refused before they are read whole. Run reports them
// per file, in an *fs.PathError naming the file.
var (
	// ErrNotRegular is returned for a path that is not a regular file (a
	// FIFO, a device, a socket): reading one can block forever, or never
	// end (/dev/zero).
	ErrNotRegular = errors.New("not a regular file")
	// ErrFileTooLarge is returned for a file of more than
	// Options.MaxFileBytes.
	ErrFileTooLarge = errors.New("file too large")
	// ErrEmpty is returned for a file of no bytes.
	ErrEmpty = errors.New("empty file")
)

// DefaultMaxFileBytes is the largest file read by default: 256 MB, far
// beyond any photo, and little enough to hold in memory.
const DefaultMaxFileBytes = 256 << 20

const (
	// headBytes are read first, to tell an image from other data before
	// reading the rest; every supported format's signature fits.
	headBytes = 512
	// readChunk is the most read at once, so that a read of a large file
	// notices an interrupt within a chunk.
	readChunk = 1 << 20
)

// ctxReader reads at most readChunk bytes per call and fails once ctx is
// done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p[:min(len(p), readChunk)])
}

// openRegular opens path for reading if it is a regular file. It looks
// before it opens, since opening a device can have effects of its own, and
// again after, on the file opened, in case the path changed in between;
// O_NONBLOCK keeps that open from waiting for a FIFO's writer, and changes
// nothing for a regular file.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	notRegular := &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, notRegular
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if info, err = f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = notRegular
		}
		return nil, nil, err
	}
	return f, info, nil
}

// ReadImage reads the image file at path whole and returns its bytes and
// ID (the hex SHA-256 of the bytes). It refuses, before reading the rest, a
// file that is not regular (ErrNotRegular), holds more than maxBytes
// (ErrFileTooLarge), is empty (ErrEmpty) or does not start like a supported
// image (imageio.ErrNotImage); each error is an *fs.PathError naming the
// file. Reading stops with ctx's error once ctx is done. Ingest reads every
// file with it; deeprank serve reads stored images with it.
func ReadImage(ctx context.Context, path string, maxBytes int64) ([]byte, string, error) {
	f, info, err := openRegular(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	tooLarge := func(size int64) error {
		return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, the limit is %d (ingest.max_file_bytes)", ErrFileTooLarge, size, maxBytes)}
	}
	if info.Size() > maxBytes {
		return nil, "", tooLarge(info.Size())
	}
	// One byte past the limit shows a file that grew while read.
	r := io.LimitReader(ctxReader{ctx, f}, maxBytes+1)
	head := make([]byte, headBytes)
	n, err := io.ReadFull(r, head)
	switch {
	case n == 0 && (err == nil || err == io.EOF):
		return nil, "", &fs.PathError{Op: "read", Path: path, Err: ErrEmpty}
	case err != nil && err != io.ErrUnexpectedEOF:
		return nil, "", &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if err := imageio.Sniff(head[:n]); err != nil {
		return nil, "", &fs.PathError{Op: "read", Path: path, Err: err}
	}
	// Only now is the rest worth its memory.
	buf := bytes.NewBuffer(make([]byte, 0, info.Size()+bytes.MinRead))
	buf.Write(head[:n])
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, "", &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(buf.Len()) > maxBytes {
		return nil, "", tooLarge(int64(buf.Len()))
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:]), nil
}
