// Package layout holds what the tools that lay out data sets share.
package layout

import (
	"os"
	"path/filepath"
)

// Link places the file src at dst, making dst's folder: a hard link where
// the file system allows one (no copy of the bytes), else a copy.
func Link(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	if os.Link(src, dst) == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
