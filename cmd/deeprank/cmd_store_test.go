package main

import (
	"strings"
	"testing"

	"github.com/deeprank/deeprank/vectorstore/embedded"
)

// TestPrintCheck: check's text names the damage of a damaged collection,
// and every note of a sound one, none hiding another.
func TestPrintCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		report embedded.CheckReport
		want   string
	}{
		{"ok", embedded.CheckReport{Collection: "c", Items: 3}, "c: ok, 3 items\n"},
		{"damaged", embedded.CheckReport{Collection: "c", Items: 3, TornBytes: 5, Damage: []*embedded.Damage{{File: "log", Offset: 40, Reason: "bad checksum"}}},
			"c: DAMAGED\n  log at byte 40: bad checksum\n"},
		{"torn", embedded.CheckReport{Collection: "c", Items: 3, TornBytes: 5},
			"c: ok, 3 items (a write cut short left 5 bytes at the end of the log; the next writing command drops them)\n"},
		{"uncoded and torn", embedded.CheckReport{Collection: "c", Items: 3, Uncoded: 2, TornBytes: 5},
			"c: ok, 3 items (2 segments written before codes are searched at a quarter of the speed; deeprank compact --collection c rewrites them; " +
				"a write cut short left 5 bytes at the end of the log; the next writing command drops them)\n"},
		{"old format", embedded.CheckReport{Collection: "c", Items: 3, OldFormat: true},
			"c: ok, 3 items (old format: any writing command, or deeprank compact, migrates it)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			printCheck(&out, []*embedded.CheckReport{&tc.report}, false)
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}
