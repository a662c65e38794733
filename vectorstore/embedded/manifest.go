package embedded

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strings"

	"github.com/deeprank/deeprank/internal/atomicfile"
	"github.com/deeprank/deeprank/vectorstore"
)

// The manifest names a collection's current files: its segments (oldest
// first), each with the mask of its rows deleted or replaced since, and the
// log. It is replaced whole, by the durable-write sequence, so a compaction
// or a reindex publishes its new files in one step and a crash leaves the
// old set or the new one. Its first line carries a checksum of the JSON
// after it.
const (
	manifestName   = "MANIFEST"
	manifestHeader = "deeprank collection v2 crc32c="
	formatVersion  = 2
	// formatVariants is the format of a collection of several vectors an
	// item, whose rows a deeprank of format 2 alone would take for damage.
	formatVariants = 3
	// formatLearned is the format of a collection whose vectors are
	// partly learned (vectorstore.Spec.Learned), which a deeprank of
	// format 3 would rewrite without saying so, and whose duplicates it
	// would judge by the whole vectors.
	formatLearned = 4
	// formatCodes is the format of every collection this deeprank writes:
	// its segments may carry codes (DRSEG003), which a deeprank of format
	// 4 would take for damage. It reads collections of the formats before,
	// and a writer's first compaction moves one to this format.
	formatCodes = 5
)

// formatOf is the format a deeprank before format 5 gave a collection of
// spec, which a manifest of such a format must say.
func formatOf(spec vectorstore.Spec) int {
	if spec.Learned > 0 {
		return formatLearned
	}
	if spec.PerItem() > 1 {
		return formatVariants
	}
	return formatVersion
}

type manifest struct {
	Format int `json:"format"`
	// UID changes when the collection is made or rebuilt, so a reader can
	// tell a new collection under the same name.
	UID      string           `json:"uid"`
	Spec     vectorstore.Spec `json:"spec"`
	Segments []segmentRef     `json:"segments"`
	Log      string           `json:"log"`
}

type segmentRef struct {
	File string `json:"file"`
	// Mask names the file of rows no longer live, or is empty.
	Mask string `json:"mask,omitempty"`
	Rows int    `json:"rows"`
	Live int    `json:"live"`
}

// files lists every file the manifest refers to.
func (m *manifest) files() []string {
	out := []string{manifestName, m.Log}
	for _, s := range m.Segments {
		out = append(out, s.File)
		if s.Mask != "" {
			out = append(out, s.Mask)
		}
	}
	return out
}

func encodeManifest(m *manifest) []byte {
	js, _ := json.MarshalIndent(m, "", "  ")
	js = append(js, '\n')
	return append(fmt.Appendf(nil, "%s%08x\n", manifestHeader, crc(js)), js...)
}

func decodeManifest(data []byte) (*manifest, error) {
	line, js, ok := strings.Cut(string(data), "\n")
	if !ok || !strings.HasPrefix(line, manifestHeader) {
		return nil, fmt.Errorf("not a manifest")
	}
	var sum uint32
	if _, err := fmt.Sscanf(line[len(manifestHeader):], "%08x", &sum); err != nil || crc([]byte(js)) != sum {
		return nil, fmt.Errorf("fails its checksum")
	}
	m := &manifest{}
	if err := json.Unmarshal([]byte(js), m); err != nil {
		return nil, err
	}
	if m.Format < formatVersion || m.Format > formatCodes {
		return nil, fmt.Errorf("format %d, this deeprank reads %d to %d", m.Format, formatVersion, formatCodes)
	}
	if !m.Spec.Valid() || !validFile(m.Log, "log-") {
		return nil, fmt.Errorf("bad spec or log name")
	}
	if m.Format != formatCodes && m.Format != formatOf(m.Spec) {
		return nil, fmt.Errorf("format %d for %d vectors an item, %d values learned", m.Format, m.Spec.PerItem(), m.Spec.LearnedDim())
	}
	for _, s := range m.Segments {
		if !validFile(s.File, "seg-") || s.Mask != "" && !validFile(s.Mask, "mask-") || s.Live < 0 || s.Live > s.Rows {
			return nil, fmt.Errorf("bad segment entry %+v", s)
		}
	}
	return m, nil
}

// validFile reports whether name is a file name this package makes: a
// prefix and hex, never a path.
func validFile(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) != 16 {
		return false
	}
	_, err := hex.DecodeString(rest)
	return err == nil
}

// newName makes a file name no other file of the collection has.
func newName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func writeManifest(dir, name string, m *manifest) error {
	return atomicfile.WriteFile(filepath.Join(dir, name), encodeManifest(m))
}

// A mask file holds the bitset of a segment's rows that are no longer live:
// "DRMASK02" | uint64 rows | uint32 CRC-32C of the bitset | the bitset as
// uint64 words, little-endian.
const maskMagic = "DRMASK02"

// bitset is a set of row numbers.
type bitset []uint64

func newBitset(n int) bitset    { return make(bitset, (n+63)/64) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) clone() bitset  { return append(bitset(nil), b...) }
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// countRange is how many of the bits [lo, hi) are set.
func (b bitset) countRange(lo, hi int) int {
	n := 0
	for i := lo; i < hi; {
		w := b[i>>6] >> (i & 63)
		if take := min(64-i&63, hi-i); take < 64 {
			w &= 1<<take - 1
			i += take
		} else {
			i += 64
		}
		n += bits.OnesCount64(w)
	}
	return n
}

func wordBytes(b bitset) []byte {
	out := make([]byte, 0, 8*len(b))
	for _, w := range b {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

func writeMask(path string, rows int, b bitset) error {
	words := wordBytes(b)
	out := append([]byte(maskMagic), binary.LittleEndian.AppendUint64(nil, uint64(rows))...)
	out = binary.LittleEndian.AppendUint32(out, crc(words))
	return atomicfile.WriteFile(path, append(out, words...))
}

func readMask(path string, rows int) (bitset, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	words := (rows + 63) / 64
	if len(data) != 20+8*words || string(data[:8]) != maskMagic || binary.LittleEndian.Uint64(data[8:]) != uint64(rows) {
		return nil, &Damage{File: filepath.Base(path), Offset: -1, Reason: "mask file has the wrong size or header"}
	}
	if crc(data[20:]) != binary.LittleEndian.Uint32(data[16:]) {
		return nil, &Damage{File: filepath.Base(path), Offset: -1, Reason: "mask fails its checksum"}
	}
	b := make(bitset, words)
	for i := range b {
		b[i] = binary.LittleEndian.Uint64(data[20+8*i:])
	}
	if rows%64 != 0 && words > 0 && b[words-1]>>(rows%64) != 0 {
		return nil, &Damage{File: filepath.Base(path), Offset: -1, Reason: "mask marks rows past the segment's end"}
	}
	return b, nil
}
