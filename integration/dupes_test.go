package integration

import (
	"bytes"
	"encoding/json"
	stdimage "image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/deeprank/deeprank/dupes"
	"github.com/deeprank/deeprank/imageio"
)

// copyTransforms make the near-duplicates of the acceptance test:
// a crop, a JPEG re-encode, a resize, a flip and a colour change.
var copyTransforms = []struct {
	name string
	make func(stdimage.Image) stdimage.Image
}{
	{"crop", func(img stdimage.Image) stdimage.Image { // the middle 80% of each side
		b := img.Bounds()
		dx, dy := b.Dx()/10, b.Dy()/10
		out := stdimage.NewRGBA(stdimage.Rect(0, 0, b.Dx()-2*dx, b.Dy()-2*dy))
		draw.Draw(out, out.Bounds(), img, b.Min.Add(stdimage.Pt(dx, dy)), draw.Src)
		return out
	}},
	{"jpeg", func(img stdimage.Image) stdimage.Image { return img }}, // saved at quality 30 below
	{"resize", func(img stdimage.Image) stdimage.Image { // half the size
		b := img.Bounds()
		out := stdimage.NewRGBA(stdimage.Rect(0, 0, b.Dx()/2, b.Dy()/2))
		xdraw.CatmullRom.Scale(out, out.Bounds(), img, b, xdraw.Src, nil)
		return out
	}},
	{"flip", func(img stdimage.Image) stdimage.Image { // left to right
		b := img.Bounds()
		out := stdimage.NewRGBA(stdimage.Rect(0, 0, b.Dx(), b.Dy()))
		for y := range b.Dy() {
			for x := range b.Dx() {
				out.Set(b.Dx()-1-x, y, img.At(b.Min.X+x, b.Min.Y+y))
			}
		}
		return out
	}},
	// Brighter by a fifth, a third less saturated: a colour change of the
	// kind the default model was trained and evaluated on (brightness,
	// contrast, saturation; not a change of hue).
	{"colour", func(img stdimage.Image) stdimage.Image {
		b := img.Bounds()
		out := stdimage.NewRGBA(stdimage.Rect(0, 0, b.Dx(), b.Dy()))
		for y := range b.Dy() {
			for x := range b.Dx() {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				c := [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
				grey := 0.299*c[0] + 0.587*c[1] + 0.114*c[2]
				for i, v := range c {
					c[i] = 1.2 * (grey + (v-grey)*0.7)
				}
				out.Set(x, y, color.RGBA{clamp(c[0]), clamp(c[1]), clamp(c[2]), 255})
			}
		}
		return out
	}},
}

func clamp(v float64) uint8 { return uint8(min(max(v, 0), 255)) }

// photoFamilies writes every sample photo and, for each photo at its own
// size (not the @2x ones), a copy under each transform, and maps each
// file written to its family: the photo's name without "@2x", so that a
// photo, its @2x twin and their copies are one family.
func photoFamilies(t *testing.T) (string, map[string]string) {
	t.Helper()
	_, files := samplePhotos(t)
	dir := t.TempDir()
	family := map[string]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		fam := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(name, "@2x")
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		orig := filepath.Join(dir, filepath.Base(filepath.Dir(f))+"-"+filepath.Base(f))
		if err := os.WriteFile(orig, data, 0o644); err != nil {
			t.Fatal(err)
		}
		family[orig] = fam
		if strings.HasSuffix(name, "@2x") {
			continue
		}
		img, err := imageio.Decode(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range copyTransforms {
			var buf bytes.Buffer
			out := tr.make(img)
			ext := ".png"
			if tr.name == "jpeg" || tr.name == "crop" || tr.name == "flip" {
				ext = ".jpg"
				q := 90
				if tr.name == "jpeg" {
					q = 30
				}
				err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: q})
			} else {
				err = png.Encode(&buf, out)
			}
			if err != nil {
				t.Fatal(err)
			}
			p := strings.TrimSuffix(orig, filepath.Ext(orig)) + "-" + tr.name + ext
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			family[p] = fam
		}
	}
	return dir, family
}

// checkFamilies runs dupes at the default threshold over a collection of
// photoFamilies and checks the acceptance test: every photo is grouped
// with its copies, and no group holds two different photos. It logs the
// copies missed by transform, so a failure says how far off it is.
func checkFamilies(t *testing.T, env []string, storeArgs []string, collection string, family map[string]string) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "dupes.json")
	out, code := run(t, env, append([]string{"dupes", "--collection", collection, "--json", "--out", report}, storeArgs...)...)
	if code != 0 {
		t.Fatalf("dupes: exit %d:\n%s", code, out)
	}
	t.Log(strings.TrimSpace(out))
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var res dupes.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("dupes --json: %v\n%s", err, data)
	}
	groupOf := map[string]int{}
	mixed := 0
	for gi, g := range res.Groups {
		fams := map[string]bool{}
		for _, m := range g.Members {
			groupOf[m.Metadata.Path] = gi
			fams[family[m.Metadata.Path]] = true
		}
		if len(fams) > 1 {
			var paths []string
			for _, m := range g.Members {
				paths = append(paths, filepath.Base(m.Metadata.Path))
			}
			t.Logf("group %d mixes different photos: %s", gi+1, strings.Join(paths, " "))
			mixed++
		}
	}
	// Each family's files: all in one group. missed counts, by kind, the
	// files outside the group that holds most of their family.
	members := map[string][]string{}
	for p, f := range family {
		members[f] = append(members[f], p)
	}
	missed := map[string]int{}
	split := 0
	for _, ps := range members {
		votes := map[int]int{}
		for _, p := range ps {
			if g, ok := groupOf[p]; ok {
				votes[g]++
			}
		}
		best, most := -1, 0
		for g, n := range votes {
			if n > most || (n == most && g < best) {
				best, most = g, n
			}
		}
		if most == len(ps) {
			continue
		}
		split++
		for _, p := range ps {
			if g, ok := groupOf[p]; !ok || g != best {
				missed[kindOf(p)]++
			}
		}
	}
	t.Logf("%d images, %d groups; %d of %d photos not grouped whole with their copies; files apart from their photo's group, by kind: %v",
		len(family), len(res.Groups), split, len(members), missed)
	// The acceptance: every photo grouped whole with its copies, and no
	// group mixing photos. The default model meets it since fd74276de3e37a74
	// (with its centre view), and 2b63a43b2e072d4d (the same weights with
	// variants, which dupes does not compare, at 0.4590), and today's
	// 77ceecf13fe85169 (those weights fine-tuned, at its own 0.5171); the
	// one before fd74276de3e37a74 (14df531b502794b9) lost one crop and
	// made three groups of two photos each.
	const maxSplit, maxMixed = 0, 0
	if split > maxSplit {
		t.Errorf("%d of %d photos are not grouped with all their copies at the default threshold, want at most %d (files apart by kind: %v)", split, len(members), maxSplit, missed)
	}
	if mixed > maxMixed {
		t.Errorf("%d groups mix different photos, want at most %d", mixed, maxMixed)
	}
}

// kindOf is the transform that made a copy, from its name, or "original".
func kindOf(path string) string {
	for _, tr := range copyTransforms {
		if strings.Contains(filepath.Base(path), "-"+tr.name+".") {
			return tr.name
		}
	}
	return "original"
}

// TestDupesPhotos is the acceptance test of near-duplicates on real
// photos, on the embedded store and on Milvus. A candidate for the
// default model is held to it too (models/default/RUN-NOTES.md, rule (d)),
// with the threshold calibrated for it, without replacing the default:
//
//	DEEPRANK_MODEL=$PWD/runs/x/model.drk DEEPRANK_DUPES_MAX_DISTANCE=D \
//	  go test -count=1 -run TestDupesPhotos/embedded ./integration
func TestDupesPhotos(t *testing.T) {
	dir, family := photoFamilies(t)
	t.Run("embedded", func(t *testing.T) {
		store := []string{"--store-dir", t.TempDir()}
		out, code := run(t, nil, append([]string{"ingest", "--collection", "photos", dir}, store...)...)
		expect(t, "ingest", out, code, 0, "failed 0")
		checkFamilies(t, nil, store, "photos", family)
	})
	t.Run("milvus", func(t *testing.T) {
		srv := startMilvus(t)
		env := []string{"DEEPRANK_STORE_KIND=milvus", "DEEPRANK_STORE_MILVUS_ADDRESS=" + srv.address(t), "DEEPRANK_STORE_DIR=" + t.TempDir()}
		out, code := run(t, env, "ingest", "--collection", "photos", dir)
		expect(t, "ingest", out, code, 0, "failed 0")
		checkFamilies(t, env, nil, "photos", family)
	})
}

// TestDecisionsAndSync checks, on both stores, that a pair marked distinct
// stays apart across a drop and re-ingest of the collection, and that sync
// handles added, moved and deleted files with the exit status it
// documents.
func TestDecisionsAndSync(t *testing.T) {
	_, files := samplePhotos(t)
	for _, store := range []string{"embedded", "milvus"} {
		t.Run(store, func(t *testing.T) {
			env := []string{"DEEPRANK_STORE_DIR=" + t.TempDir()}
			if store == "milvus" {
				srv := startMilvus(t)
				env = append(env, "DEEPRANK_STORE_KIND=milvus", "DEEPRANK_STORE_MILVUS_ADDRESS="+srv.address(t))
			}
			// A photo and its @2x twin (near-duplicates), and three others.
			dir := t.TempDir()
			var picked, others []string
			for _, f := range files {
				switch base := filepath.Base(f); {
				case base == "beach3.jpg" || base == "beach3@2x.jpg":
					picked = append(picked, f)
				case !strings.Contains(base, "@2x") && !strings.HasPrefix(base, "beach"):
					others = append(others, f)
				}
			}
			for _, f := range append(picked, others[:3]...) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			groups := func(what string) []dupes.Group {
				t.Helper()
				report := filepath.Join(t.TempDir(), "g.json")
				out, code := run(t, env, "dupes", "--collection", "d", "--json", "--out", report)
				expect(t, what, out, code, 0, "groups of near-duplicates")
				data, err := os.ReadFile(report)
				if err != nil {
					t.Fatal(err)
				}
				var res dupes.Result
				if err := json.Unmarshal(data, &res); err != nil {
					t.Fatal(err)
				}
				return res.Groups
			}
			out, code := run(t, env, "sync", "--collection", "d", dir)
			expect(t, "sync a new folder", out, code, 10, "ingested 5")
			g := groups("dupes")
			if len(g) != 1 || len(g[0].Members) != 2 || !strings.HasPrefix(filepath.Base(g[0].Members[1].Metadata.Path), "beach3") {
				t.Fatalf("dupes: %+v, want the beach3 twins as the one group", g)
			}
			a, b := g[0].Members[0].ID, g[0].Members[1].ID
			out, code = run(t, env, "dupes", "--collection", "d", "--not-duplicate", a, b)
			expect(t, "--not-duplicate", out, code, 0, "recorded 1 new distinct pairs")
			if g := groups("dupes after --not-duplicate"); len(g) != 0 {
				t.Fatalf("the pair marked distinct is still a group: %+v", g)
			}
			out, code = run(t, env, "collections", "drop", "d")
			expect(t, "drop", out, code, 0, "")
			out, code = run(t, env, "ingest", "--collection", "d", dir)
			expect(t, "re-ingest", out, code, 0, "ingested 5")
			if g := groups("dupes after re-ingest"); len(g) != 0 {
				t.Fatalf("the pair marked distinct came back after a re-ingest: %+v", g)
			}

			out, code = run(t, env, "sync", "--collection", "d", dir)
			expect(t, "sync, nothing new", out, code, 0, "removed 0 images")
			extra := files[len(files)-1]
			data, err := os.ReadFile(extra)
			if err != nil {
				t.Fatal(err)
			}
			added := filepath.Join(dir, "added.jpg")
			if err := os.WriteFile(added, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, code = run(t, env, "sync", "--collection", "d", dir)
			expect(t, "sync, a file added", out, code, 10, "ingested 1")
			moved := filepath.Join(dir, "moved.jpg")
			if err := os.Rename(added, moved); err != nil {
				t.Fatal(err)
			}
			out, code = run(t, env, "sync", "--collection", "d", "--dry-run", dir)
			expect(t, "sync --dry-run, a file moved", out, code, 10, "moved: "+added+" -> "+moved)
			out, code = run(t, env, "sync", "--collection", "d", dir)
			expect(t, "sync, a file moved", out, code, 10, "updated 1 moved path")
			if err := os.Remove(moved); err != nil {
				t.Fatal(err)
			}
			out, code = run(t, env, "sync", "--collection", "d", dir)
			expect(t, "sync, a file deleted", out, code, 10, "removed (gone): "+moved)
			out, code = run(t, env, "sync", "--collection", "d", dir)
			expect(t, "sync, nothing changed", out, code, 0, "removed 0 images")
			out, code = run(t, env, "collections", "describe", "d")
			expect(t, "describe", out, code, 0, " 5 ")
		})
	}
}
