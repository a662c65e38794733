// Package atomicfile writes files durably and all at once: a reader, or the
// file system after a crash or power loss, sees the old content or the new,
// never a mix or a part.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path: into a temporary file in the same folder,
// fsynced, renamed over path, then the folder fsynced so the rename itself
// is durable. On any error the temporary file is removed and path is left
// as it was. The file is made readable by all (0644).
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// CreateTemp makes the file private; these are shareable files.
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}
