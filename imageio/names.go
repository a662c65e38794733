package imageio

import (
	"path/filepath"
	"strings"
)

// imageExts are the file name extensions of the formats this package
// decodes, which folder walks take as images.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true, ".bmp": true, ".tif": true, ".tiff": true, ".heic": true, ".heif": true, ".avif": true}

// IsImageName reports whether a file name has an image extension.
func IsImageName(name string) bool { return imageExts[strings.ToLower(filepath.Ext(name))] }
