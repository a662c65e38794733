package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const header = "path\tsplit\tkind\tsource\tfile\twidth\theight\n"

func TestRun(t *testing.T) {
	cases := []struct {
		name    string
		index   string
		sources []string
		want    string // groups.tsv; "" when run fails
		wantErr string
	}{
		{
			name: "frames grouped in frame order, singletons and other sources left out",
			index: header +
				"train/rendered/units/k10.png\ttrain\trendered\tunits\telves/archer-attack-10.png\t72\t72\n" +
				"train/rendered/units/k2.png\ttrain\trendered\tunits\telves/archer-attack-2.png\t72\t72\n" +
				"train/rendered/units/k1.png\ttrain\trendered\tunits\telves/archer-attack-1.png\t72\t72\n" +
				"train/rendered/units/k5.png\ttrain\trendered\tunits\torcs/archer-attack-1.png\t72\t72\n" +
				"train/rendered/units/k6.png\ttrain\trendered\tunits\telves/archer.png\t72\t72\n" +
				"train/rendered/units/k7.png\ttrain\trendered\tunits\telves/archer-defend-1.png\t72\t72\n" +
				"train/rendered/other/k8.png\ttrain\trendered\tother\ttree-1.png\t72\t72\n" +
				"train/rendered/other/k9.png\ttrain\trendered\tother\ttree-2.png\t72\t72\n",
			sources: []string{"rendered/units"},
			want: "rendered/units/k1.png\tunits/elves/archer-attack\n" +
				"rendered/units/k2.png\tunits/elves/archer-attack\n" +
				"rendered/units/k10.png\tunits/elves/archer-attack\n",
		},
		{
			name:    "a held-out source",
			index:   header + "heldout/rendered/hw/k1.png\theldout\trendered\thw\ta-1.png\t8\t8\n",
			sources: []string{"rendered/hw"},
			wantErr: "held out of training",
		},
		{
			name:    "an unknown source",
			index:   header + "train/rendered/units/k1.png\ttrain\trendered\tunits\ta-1.png\t8\t8\n",
			sources: []string{"rendered/unit"},
			wantErr: "no images of rendered/unit",
		},
		{
			name:    "a short line",
			index:   header + "train/rendered/units/k1.png\ttrain\n",
			sources: []string{"rendered/units"},
			wantErr: "line 2 has 2 columns",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "index.tsv"), []byte(tc.index), 0o644); err != nil {
				t.Fatal(err)
			}
			err := run(dir, tc.sources, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "groups.tsv"))
			if err != nil || string(got) != tc.want {
				t.Fatalf("groups.tsv:\n%s(%v)\nwant:\n%s", got, err, tc.want)
			}
		})
	}
}
