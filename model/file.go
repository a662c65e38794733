package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/deeprank/deeprank/internal/atomicfile"
)

// Normalization maps a pixel in [0,1] (8-bit value / 255) to the network's
// input: (x - Mean[c]) / Std[c] for channel c of R, G, B.
type Normalization struct {
	Mean [3]float32 `json:"mean"`
	Std  [3]float32 `json:"std"`
	// Standardize, when set, comes first: it maps each image's own
	// values to a set mean and spread (Standardization).
	Standardize Standardization `json:"standardize,omitzero"`
}

// Standardization maps an image's values, the three channels pooled, to
// mean Mean and standard deviation Std (in [0,1] units) by one gain and
// offset for the whole image. A copy made brighter or more contrasted
// then reaches the network as the image itself, but for the values the
// change clipped at 0 or 255; the network would otherwise have to learn
// that invariance, and its colour branch sees absolute colours. The gain
// is at most MaxStandardizeGain, so that a nearly flat image keeps its
// noise small. A Spec.Thumbnail is taken from the standardized values:
// centred and of unit length it is the same, but for its fade near flat
// pictures (thumbnailFade), which reads the stretched values. The zero
// value standardizes nothing.
type Standardization struct {
	Mean float32 `json:"mean"`
	Std  float32 `json:"std"`
}

// MaxStandardizeGain caps Standardization's gain: an image of a quarter
// of the target spread or less is stretched four times, no more.
const MaxStandardizeGain = 4

// On says whether s standardizes.
func (s Standardization) On() bool { return s != Standardization{} }

// Validate checks that a set s has a mean in [0, 1] and a spread in
// (0, 0.5], the most [0, 1] values can have.
func (s Standardization) Validate() error {
	if !s.On() {
		return nil
	}
	if !(s.Mean >= 0 && s.Mean <= 1) {
		return fmt.Errorf("standardize.mean is %g; it must be in [0, 1], e.g. 0.5", s.Mean)
	}
	if !(s.Std > 0 && s.Std <= 0.5) {
		return fmt.Errorf("standardize.std is %g; it must be above 0 and at most 0.5, e.g. 0.25", s.Std)
	}
	return nil
}

// UnitNormalization only rescales to [0,1], as the reference does.
func UnitNormalization() Normalization {
	return Normalization{Std: [3]float32{1, 1, 1}}
}

// Provenance records how a model was made.
type Provenance struct {
	Created string             `json:"created,omitempty"`
	Data    string             `json:"data,omitempty"`
	Config  string             `json:"config,omitempty"`
	Parent  string             `json:"parent,omitempty"` // version of the model it was fine-tuned from
	Epochs  int                `json:"epochs,omitempty"`
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Model is a network spec with its weights: what a model file holds.
type Model struct {
	Spec          Spec
	Normalization Normalization
	Provenance    Provenance
	// Weights holds every parameter of Spec.Arch().Params(), row-major,
	// keyed by name.
	Weights map[string][]float32

	// legacy is set by Decode for a file of format 1, whose version was
	// the hash of the whole file. Collections are stamped with that
	// version, so it stays the model's version as long as the content it
	// was read with (spec, normalization, weights) is unchanged.
	legacy *legacyVersion
}

// legacyVersion is the version of a format-1 file and the content version
// of what it held.
type legacyVersion struct{ version, content string }

// New returns a model for spec with every weight zero.
func New(spec Spec, norm Normalization) (*Model, error) {
	a, err := spec.Arch()
	if err != nil {
		return nil, err
	}
	m := &Model{Spec: spec, Normalization: norm, Weights: map[string][]float32{}}
	for _, p := range a.Params() {
		m.Weights[p.Name] = make([]float32, shapeSize(p.Shape))
	}
	return m, nil
}

// Initialize draws fresh weights: He-normal for weights, zero for biases.
// The same seed gives the same weights.
func (m *Model) Initialize(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	a, _ := m.Spec.Arch() // the spec was validated by New or Load
	for _, p := range a.Params() {
		w := m.Weights[p.Name]
		if len(p.Shape) == 1 { // bias
			clear(w)
			continue
		}
		std := math.Sqrt(2 / float64(p.FanIn))
		for i := range w {
			w[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// Clone returns a deep copy of m.
func (m *Model) Clone() *Model {
	c := *m
	c.Provenance.Metrics = maps.Clone(m.Provenance.Metrics)
	c.Weights = make(map[string][]float32, len(m.Weights))
	for k, v := range m.Weights {
		c.Weights[k] = slices.Clone(v)
	}
	return &c
}

func shapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// The file layout, all integers little-endian:
//
//	magic "DEEPRANK" | uint32 format version | uint32 header length |
//	header (JSON) | float32 tensor data in header order | SHA-256 of all before
//
// Formats 1 and 2 share this layout and differ in the model's version
// (see Model.Version): format 1's covered the whole file, provenance and
// creation time included, so that two identical training runs gave two
// versions; format 2's covers only what the model computes with.
const (
	fileMagic = "DEEPRANK"
	// fileVersion is the format Encode writes.
	fileVersion = 2
	// legacyFileVersion is the older format Decode still reads.
	legacyFileVersion = 1
	prefixLen         = len(fileMagic) + 8
	sumLen            = sha256.Size
	// maxHeaderLen bounds the JSON header so a corrupt length cannot make
	// the loader allocate without limit.
	maxHeaderLen = 16 << 20
)

type fileHeader struct {
	Spec          Spec          `json:"spec"`
	Normalization Normalization `json:"normalization"`
	Provenance    Provenance    `json:"provenance"`
	Tensors       []tensorEntry `json:"tensors"`
}

type tensorEntry struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Sentinel errors of Decode and Load, matched with errors.Is.
var (
	// ErrNotModel is returned when the data does not start like a model file.
	ErrNotModel = errors.New("not a deeprank model file")
	// ErrTruncated is returned when the file ends before its declared size.
	ErrTruncated = errors.New("model file is truncated")
	// ErrCorrupt is returned when the checksum or the content is wrong.
	ErrCorrupt = errors.New("model file is corrupt")
	// ErrIncompatible is returned for a format version or a spec this build
	// cannot run.
	ErrIncompatible = errors.New("model file is incompatible")
)

// Encode returns the model in the file format.
func (m *Model) Encode() ([]byte, error) {
	a, err := m.Spec.Arch()
	if err != nil {
		return nil, fmt.Errorf("encode model: %w", err)
	}
	h := fileHeader{Spec: m.Spec, Normalization: m.Normalization, Provenance: m.Provenance}
	n := 0
	for _, p := range a.Params() {
		w, ok := m.Weights[p.Name]
		if !ok || len(w) != shapeSize(p.Shape) {
			return nil, fmt.Errorf("encode model: parameter %s has %d values, want %d", p.Name, len(w), shapeSize(p.Shape))
		}
		h.Tensors = append(h.Tensors, tensorEntry{p.Name, p.Shape})
		n += len(w)
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode model header: %w", err)
	}
	buf := make([]byte, 0, prefixLen+len(js)+4*n+sumLen)
	buf = append(buf, fileMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, fileVersion)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(js)))
	buf = append(buf, js...)
	for _, t := range h.Tensors {
		for _, v := range m.Weights[t.Name] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	sum := sha256.Sum256(buf)
	return append(buf, sum[:]...), nil
}

// Decode parses a model file. It verifies the checksum, the spec and that
// the tensors are exactly those the spec needs.
func Decode(data []byte) (*Model, error) {
	if len(data) < prefixLen || !bytes.Equal(data[:len(fileMagic)], []byte(fileMagic)) {
		return nil, ErrNotModel
	}
	format := binary.LittleEndian.Uint32(data[len(fileMagic):])
	if format != fileVersion && format != legacyFileVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads %d and %d", ErrIncompatible, format, legacyFileVersion, fileVersion)
	}
	hlen := int(binary.LittleEndian.Uint32(data[len(fileMagic)+4:]))
	if hlen > maxHeaderLen {
		return nil, fmt.Errorf("%w: header length %d", ErrCorrupt, hlen)
	}
	if len(data) < prefixLen+hlen+sumLen {
		return nil, fmt.Errorf("%w: %d bytes, header alone needs %d", ErrTruncated, len(data), prefixLen+hlen+sumLen)
	}
	var h fileHeader
	if err := json.Unmarshal(data[prefixLen:prefixLen+hlen], &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	a, err := h.Spec.Arch()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrIncompatible, err)
	}
	params := a.Params()
	if len(params) != len(h.Tensors) {
		return nil, fmt.Errorf("%w: %d tensors, the spec needs %d", ErrCorrupt, len(h.Tensors), len(params))
	}
	n := 0
	for i, p := range params {
		t := h.Tensors[i]
		if t.Name != p.Name || !slices.Equal(t.Shape, p.Shape) {
			return nil, fmt.Errorf("%w: tensor %d is %s%v, the spec needs %s%v", ErrCorrupt, i, t.Name, t.Shape, p.Name, p.Shape)
		}
		n += shapeSize(p.Shape)
	}
	want := prefixLen + hlen + 4*n + sumLen
	if len(data) < want {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrTruncated, len(data), want)
	}
	if len(data) > want {
		return nil, fmt.Errorf("%w: %d bytes of trailing data", ErrCorrupt, len(data)-want)
	}
	body := data[:want-sumLen]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[want-sumLen:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	m := &Model{Spec: h.Spec, Normalization: h.Normalization, Provenance: h.Provenance, Weights: map[string][]float32{}}
	off := prefixLen + hlen
	for _, p := range params {
		w := make([]float32, shapeSize(p.Shape))
		for i := range w {
			w[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[off:]))
			off += 4
		}
		m.Weights[p.Name] = w
	}
	for c, s := range m.Normalization.Std {
		if !(s > 0) {
			return nil, fmt.Errorf("%w: normalization std of channel %d is %g", ErrCorrupt, c, s)
		}
	}
	if err := m.Normalization.Standardize.Validate(); err != nil {
		return nil, fmt.Errorf("%w: normalization: %v", ErrCorrupt, err)
	}
	if format == legacyFileVersion {
		content, err := m.contentVersion()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		m.legacy = &legacyVersion{version: versionOf(data), content: content}
	}
	return m, nil
}

// Version is the model's content hash: the first 16 hex digits of the
// SHA-256 of its encoding without its provenance, so of its spec,
// normalization and weights alone. Two models with the same version embed
// alike, and the same seed, data and config train models of one version,
// whenever they run.
//
// A model read from a file of format 1 keeps that file's version, the hash
// of the whole file, while its spec, normalization and weights are
// unchanged: collections are stamped with it.
func (m *Model) Version() (string, error) {
	v, err := m.contentVersion()
	if err != nil {
		return "", err
	}
	if m.legacy != nil && m.legacy.content == v {
		return m.legacy.version, nil
	}
	return v, nil
}

// contentVersion is the version of m by the rule of the current format.
func (m *Model) contentVersion() (string, error) {
	c := *m
	c.Provenance = Provenance{}
	b, err := c.Encode()
	if err != nil {
		return "", err
	}
	return versionOf(b), nil
}

func versionOf(encoded []byte) string {
	sum := sha256.Sum256(encoded)
	return hex.EncodeToString(sum[:8])
}

// Load reads and verifies a model file.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// Save writes the model to path atomically (temporary file, fsync, rename,
// fsync of the folder) and returns its version. The file is of the current
// format, so a model read from a format-1 file takes the version of the
// current rule from then on, as the file written will give it.
func (m *Model) Save(path string) (string, error) {
	b, err := m.Encode()
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return "", fmt.Errorf("save model: %w", err)
	}
	m.legacy = nil
	return m.Version()
}
