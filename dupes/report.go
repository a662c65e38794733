package dupes

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteText prints the groups for people: one block a group, the suggested
// keeper marked, each member's distance to the first, pixel size and path.
func (r *Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, g := range r.Groups {
		fmt.Fprintf(tw, "group %d (%d images)", i+1, len(g.Members))
		if g.Keeper == "" {
			fmt.Fprint(tw, ": every file is gone, no keeper to suggest")
		}
		fmt.Fprintln(tw)
		for _, m := range g.Members {
			mark := ""
			switch {
			case m.ID == g.Keeper:
				mark = "keep"
			case m.Missing:
				mark = "gone"
			}
			fmt.Fprintf(tw, "  %s\t%.4f\t%dx%d\t%s\n", mark, m.Distance, m.Metadata.Width, m.Metadata.Height, m.Metadata.Path)
		}
	}
	return tw.Flush()
}

// WriteCSV prints one row a member: group, keeper (true for the suggested
// keeper), id, path, distance to the group's first member, width, height,
// modification time as stored, missing (true when the file is gone).
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"group", "keeper", "id", "path", "distance", "width", "height", "mod_time", "missing"})
	for i, g := range r.Groups {
		for _, m := range g.Members {
			cw.Write([]string{strconv.Itoa(i + 1), strconv.FormatBool(m.ID == g.Keeper), m.ID, m.Metadata.Path,
				strconv.FormatFloat(float64(m.Distance), 'f', 6, 32), strconv.Itoa(m.Metadata.Width), strconv.Itoa(m.Metadata.Height),
				m.Metadata.ModTime.Format(time.RFC3339), strconv.FormatBool(m.Missing)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteMatchesText prints each image with its near-duplicates in the
// other collection, nearest first.
func WriteMatchesText(w io.Writer, ms []Match) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\n", m.Metadata.Path)
		for _, h := range m.Matches {
			fmt.Fprintf(tw, "  %.4f\t%s\n", h.Distance, h.Metadata.Path)
		}
	}
	return tw.Flush()
}

// WriteMatchesCSV prints one row a pair: id and path of the image, id and
// path of its near-duplicate in the other collection, distance.
func WriteMatchesCSV(w io.Writer, ms []Match) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "path", "match_id", "match_path", "distance"})
	for _, m := range ms {
		for _, h := range m.Matches {
			cw.Write([]string{m.ID, m.Metadata.Path, h.ID, h.Metadata.Path, strconv.FormatFloat(float64(h.Distance), 'f', 6, 32)})
		}
	}
	cw.Flush()
	return cw.Error()
}
