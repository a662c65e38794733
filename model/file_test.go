package model

import (
	"bytes"
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

func TestSaveLoadRoundTrip(t *testing.T) {
	m := mustModel(t)
	path := filepath.Join(t.TempDir(), "m.drk")
	v, err := m.Save(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
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
	f.Add(good[:prefixLen+20])
	f.Add([]byte("DEEPRANK"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes and run.
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded model does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("decode then encode changed the bytes")
		}
		if _, err := NewNet(m, nil); err != nil {
			t.Fatalf("decoded model does not run: %v", err)
		}
	})
}
