// Package heiftest makes HEIC and AVIF files for tests with the reference
// encoders, heif-enc and avifenc (Debian's libheif-examples and
// libavif-bin; scripts/heif-tools.sh installs them).
package heiftest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Encode writes src, a JPEG or PNG, to dir in format "heic" or "avif",
// passing args to the encoder, and returns the new file's path. It skips t
// when the encoder is not installed, unless DEEPRANK_REQUIRE_HEIF_TOOLS=1
// (as in CI), where it fails instead.
func Encode(t testing.TB, dir, src, format string, args ...string) string {
	t.Helper()
	tool := map[string]string{"heic": "heif-enc", "avif": "avifenc"}[format]
	path, err := exec.LookPath(tool)
	if tool == "" {
		err = errors.New("no encoder for " + format)
	}
	if err != nil {
		if os.Getenv("DEEPRANK_REQUIRE_HEIF_TOOLS") == "1" {
			t.Fatalf("%v: install libheif-examples and libavif-bin (scripts/heif-tools.sh)", err)
		}
		t.Skipf("%v: install libheif-examples and libavif-bin to test HEIC and AVIF", err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), filepath.Ext(src))+"-"+strings.Join(args, "")+"."+format)
	cmd := exec.Command(path, append(args, "-o", out, src)...)
	if format == "avif" { // avifenc takes the output last, without -o
		cmd = exec.Command(path, append(args, src, out)...)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, msg)
	}
	return out
}
