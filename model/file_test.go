package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// tinySpec is a valid spec small enough for fast tests.
func tinySpec() Spec {
	s := DefaultSpec()
	s.InputSize = 16
	s.Width = 2
	s.Stages = 2
	s.DenseDim = 4
	s.EmbeddingDim = 3
	s.Shallow = ScaledShallowBranches(16)
	for i := range s.Shallow {
		s.Shallow[i].Filters = 2
	}
	return s
}

func mustModel(t testing.TB) *Model {
	t.Helper()
	m, err := New(tinySpec(), UnitNormalization())
	if err != nil {
		t.Fatal(err)
	}
	m.Initialize(1)
	m.Provenance = Provenance{Data: "test", Epochs: 2, Metrics: map[string]float64{"val_precision": 0.9}}
	return m
}

// mustSaveLoad saves m to a new file and loads it back; it returns the
// version Save gave and the model loaded.
func mustSaveLoad(t *testing.T, m *Model) (string, *Model) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.drk")
	v, err := m.Save(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return v, got
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := mustModel(t)
	v, got := mustSaveLoad(t, m)
	gv, err := got.Version()
	if err != nil {
		t.Fatal(err)
	}
	if gv != v {
		t.Errorf("version after load %s, saved %s", gv, v)
	}
	for name, w := range m.Weights {
		if !equalFloats(got.Weights[name], w) {
			t.Errorf("weights of %s differ after load", name)
		}
	}
	if got.Provenance.Metrics["val_precision"] != 0.9 || got.Spec.Backbone != m.Spec.Backbone {
		t.Errorf("header not kept: %+v", got.Provenance)
	}
	m.Weights["embedding.b"][0] += 1
	if v2, _ := m.Version(); v2 == v {
		t.Error("changing a weight kept the version")
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeErrors(t *testing.T) {
	m := mustModel(t)
	good, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	badSpec := mustModel(t)
	badSpec.Spec.Backbone = "resnet"
	// Encode writes what it is given; Decode must refuse a file whose
	// normalization would divide by zero or stretch without bound.
	encoded := func(n Normalization) []byte {
		m := mustModel(t)
		m.Normalization = n
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	zeroStd := UnitNormalization()
	zeroStd.Std[1] = 0
	wideStandardize := UnitNormalization()
	wideStandardize.Standardize = Standardization{Mean: 0.5, Std: 0.9}
	zeroStandardize := UnitNormalization()
	zeroStandardize.Standardize = Standardization{Mean: 0.5}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotModel},
		{"text", []byte("hello, this is not a model file"), ErrNotModel},
		{"truncated header", good[:prefixLen+10], ErrTruncated},
		{"truncated weights", good[:len(good)-100], ErrTruncated},
		{"extra bytes", append(bytes.Clone(good), 0), ErrCorrupt},
		{"flipped weight bit", flip(len(good) - sumLen - 5), ErrCorrupt},
		{"flipped checksum bit", flip(len(good) - 1), ErrCorrupt},
		{"future format", func() []byte { b := bytes.Clone(good); b[len(fileMagic)] = 9; return b }(), ErrIncompatible},
		{"huge header length", func() []byte { b := bytes.Clone(good); b[len(fileMagic)+7] = 0x7f; return b }(), ErrCorrupt},
		{"channel std of zero", encoded(zeroStd), ErrCorrupt},
		{"standardize std above 0.5", encoded(wideStandardize), ErrCorrupt},
		{"standardize std of zero", encoded(zeroStandardize), ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := badSpec.Encode(); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("encoding an invalid spec: err = %v, want ErrInvalidSpec", err)
	}
}

func TestLoadNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.drk")
	if err := os.WriteFile(path, []byte("DEEPRANK\x01\x00\x00\x00\xff\x00\x00\x00{"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if !errors.Is(err, ErrTruncated) || !bytes.Contains([]byte(err.Error()), []byte(path)) {
		t.Fatalf("err = %v, want ErrTruncated naming %s", err, path)
	}
}

func FuzzDecode(f *testing.F) {
	m, err := New(tinySpec(), UnitNormalization())
	if err != nil {
		f.Fatal(err)
	}
	good, err := m.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(legacyEncode(f, m))
	f.Add(good[:prefixLen+20])
	f.Add([]byte("DEEPRANK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes (but the
		// format number and checksum, for a format-1 file) and run.
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		if !bytes.Equal(again[prefixLen-4:len(again)-sumLen], data[prefixLen-4:len(data)-sumLen]) {
			t.Fatal("decode then encode changed the bytes")
		}
		if m.legacy == nil && !bytes.Equal(again, data) {
			t.Fatal("decode then encode changed the bytes of a current file")
		}
		if _, err := NewNet(m, nil); err != nil {
			t.Fatalf("decoded model does not run: %v", err)
		}
	})
}

// legacyEncode encodes m as a file of format 1 (before versions left out
// the provenance): the current encoding with the old format number.
func legacyEncode(t testing.TB, m *Model) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b = b[:len(b)-sumLen]
	binary.LittleEndian.PutUint32(b[len(fileMagic):], legacyFileVersion)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// TestVersion checks what a model's version covers: its spec,
// normalization and weights, not its provenance (creation time, data,
// metrics), so that identical training runs give one version.
func TestVersion(t *testing.T) {
	base := mustModel(t)
	v0, err := base.Version()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(m *Model)
		same bool
	}{
		{"nothing", func(m *Model) {}, true},
		{"creation time", func(m *Model) { m.Provenance.Created = "2026-12-01T11:00:00Z" }, true},
		{"data, config, parent, epochs", func(m *Model) {
			m.Provenance.Data, m.Provenance.Config, m.Provenance.Parent, m.Provenance.Epochs = "other", "c.yaml", "0123456789abcdef", 7
		}, true},
		{"metrics", func(m *Model) { m.Provenance.Metrics = map[string]float64{"val_precision": 0.5} }, true},
		{"a weight", func(m *Model) { m.Weights["embedding.b"][0] += 1e-6 }, false},
		{"normalization", func(m *Model) { m.Normalization.Mean[1] = 0.5 }, false},
		{"standardization", func(m *Model) { m.Normalization.Standardize = Standardization{Mean: 0.5, Std: 0.25} }, false},
		{"spec", func(m *Model) {
			spec := m.Spec
			spec.ColorFeatures = 2
			n, err := New(spec, m.Normalization)
			if err != nil {
				t.Fatal(err)
			}
			for name, w := range m.Weights { // the same weights where both have them
				copy(n.Weights[name], w)
			}
			*m = *n
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base.Clone()
			tc.edit(m)
			v, err := m.Version()
			if err != nil {
				t.Fatal(err)
			}
			if (v == v0) != tc.same {
				t.Errorf("version %s, before the change %s; want them equal: %t", v, v0, tc.same)
			}
			// Saved and loaded, the model keeps its version.
			sv, loaded := mustSaveLoad(t, m)
			if lv, _ := loaded.Version(); sv != v || lv != v {
				t.Errorf("version %s, Save gave %s, loaded %s", v, sv, lv)
			}
		})
	}
}

// TestLegacyVersion checks that a model read from a format-1 file keeps
// that file's version (the hash of the whole file, which collections are
// stamped with) until its weights change or it is saved anew.
func TestLegacyVersion(t *testing.T) {
	m := mustModel(t)
	m.Provenance.Created = "2025-01-01T00:00:00Z"
	data := legacyEncode(t, m)
	sum := sha256.Sum256(data)
	fileHash := hex.EncodeToString(sum[:8])
	content, err := m.Version()
	if err != nil {
		t.Fatal(err)
	}
	if content == fileHash {
		t.Fatal("the test proved nothing: the two rules agree")
	}
	cases := []struct {
		name string
		edit func(t *testing.T, m *Model)
		want string
	}{
		{"as read", func(t *testing.T, m *Model) {}, fileHash},
		{"provenance changed", func(t *testing.T, m *Model) { m.Provenance.Created = "" }, fileHash},
		{"cloned", func(t *testing.T, m *Model) { *m = *m.Clone() }, fileHash},
		{"weight changed", func(t *testing.T, m *Model) { m.Weights["embedding.b"][0] += 1 }, ""},
		{"saved anew", func(t *testing.T, m *Model) {
			if _, err := m.Save(filepath.Join(t.TempDir(), "m.drk")); err != nil {
				t.Fatal(err)
			}
		}, content},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(t, got)
			v, err := got.Version()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if v == fileHash || v == content {
					t.Errorf("version %s after the change, want a new one", v)
				}
			} else if v != tc.want {
				t.Errorf("version %s, want %s", v, tc.want)
			}
		})
	}
}
