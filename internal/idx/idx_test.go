package idx

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		dims    []int
		wantErr bool
	}{
		{"labels", []byte{0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9}, []int{3}, false},
		{"images", []byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4}, []int{1, 2, 2}, false},
		{"short data", []byte{0, 0, 8, 1, 0, 0, 0, 3, 7}, nil, true},
		{"float type", []byte{0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, nil, true},
		{"empty", nil, nil, true},
		{"huge header", []byte{0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Decode(bytes.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("err = %v, want ErrFormat", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Dims) != len(tc.dims) {
				t.Fatalf("dims %v, want %v", a.Dims, tc.dims)
			}
			for i := range a.Dims {
				if a.Dims[i] != tc.dims[i] {
					t.Fatalf("dims %v, want %v", a.Dims, tc.dims)
				}
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9})
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Dims {
			n *= d
		}
		if len(a.Data) != n {
			t.Fatalf("%d values for dims %v", len(a.Data), a.Dims)
		}
	})
}
