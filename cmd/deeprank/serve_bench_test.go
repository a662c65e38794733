package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deeprank/deeprank/embedder"
	"github.com/deeprank/deeprank/internal/cputime"
	"github.com/deeprank/deeprank/internal/fixture"
	defaultmodel "github.com/deeprank/deeprank/models/default"
	"github.com/deeprank/deeprank/vectorstore"
)

var loadDuration = flag.Duration("load-duration", 30*time.Second, "how long BenchmarkServe's clients search")

const (
	loadClients = 16     // concurrent clients of BenchmarkServe
	loadVectors = 10_000 // vectors stored: the sample photos and random ones
)

// BenchmarkServe loads `deeprank serve` on the default model: 16 clients
// search by uploading a sample photo (multipart, top_k 10) as fast as
// answers come, for -load-duration (30 s), over loopback, against a
// collection of 10,000 vectors (the sample photos ingested, then random
// unit vectors upserted under the same model version). It reports
// requests/s, p50 and p99 latency, errors (any answer but a 200 with
// results), the server's peak RSS (VmHWM), and the rate at which the
// embedder alone decodes and embeds the same photo one at a time, measured
// in the same run before the server starts, with the ratio of the two.
// The CPU time per request of the server (from /proc) and of the clients
// tells what two cores can answer when nothing else runs on the machine.
//
//	go test -run '^$' -bench Serve -benchtime 1x ./cmd/deeprank
func BenchmarkServe(b *testing.B) {
	sample, err := sampleFolder()
	if err != nil {
		b.Skip(err)
	}
	photo := filepath.Join(sample, "beach", "beach3.jpg")
	data, err := os.ReadFile(photo)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	bin := buildBinary(b, dir)
	store := filepath.Join(dir, "store")
	if out, err := exec.Command(bin, "ingest", "--collection", "bench", "--store-dir", store, sample).CombinedOutput(); err != nil {
		b.Fatalf("ingest: %v\n%s", err, out)
	}
	emb := defaultEmbedder(b)
	fillRandom(b, store, "bench", vectorstore.Spec{Dim: emb.Dim(), Metric: vectorstore.MetricL2, ModelVersion: emb.ModelVersion()}, loadVectors)
	embedRate := singleEmbedRate(b, emb, data, 3*time.Second)

	srv := fixture.StartServe(b, bin, "--store-dir", store)
	contentType, body := fixture.ImageForm(filepath.Base(photo), data, "top_k", "10")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}, Timeout: time.Minute}
	search := func() error {
		resp, err := client.Post(srv.Base+"/v1/collections/bench/search", contentType, bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var got struct{ Results []json.RawMessage }
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got.Results) != 10 {
			return fmt.Errorf("status %d, %d results, %v", resp.StatusCode, len(got.Results), err)
		}
		return nil
	}
	if err := search(); err != nil { // warm: the collection opens on its first search
		b.Fatalf("first search: %v", err)
	}

	var (
		mu     sync.Mutex
		lat    []time.Duration
		errs   int
		lastEr error
		wg     sync.WaitGroup
	)
	b.Logf("load average before the load: %s", loadAverage())
	cpuBefore, clientBefore := cpuSeconds(srv.Cmd.Process.Pid), cputime.Seconds()
	b.ResetTimer()
	began := time.Now()
	deadline := began.Add(*loadDuration)
	for range loadClients {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				err := search()
				took := time.Since(start)
				if err != nil {
					mu.Lock()
					errs, lastEr = errs+1, err
					mu.Unlock()
					continue
				}
				mine = append(mine, took)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	b.Logf("load average after: %s (the machine's other jobs and this load)", loadAverage())
	rss := peakRSS(srv.Cmd.Process.Pid)
	cpu, clientCPU := cpuSeconds(srv.Cmd.Process.Pid)-cpuBefore, cputime.Seconds()-clientBefore
	srv.Stop(b)
	if errs > 0 {
		b.Errorf("%d searches failed; the last: %v", errs, lastEr)
	}
	if len(lat) == 0 {
		b.Fatal("no search answered")
	}
	slices.Sort(lat)
	rate := float64(len(lat)) / elapsed.Seconds()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(rate, "requests/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(float64(errs), "errors")
	b.ReportMetric(float64(rss)/(1<<20), "server-peak-rss-MB")
	if cpu > 0 {
		b.ReportMetric(cpu*1000/float64(len(lat)+errs), "server-cpu-ms/req")
	}
	if clientCPU > 0 { // the clients share the cores with the server
		b.ReportMetric(clientCPU*1000/float64(len(lat)+errs), "client-cpu-ms/req")
	}
	b.ReportMetric(embedRate, "embed-images/s")
	b.ReportMetric(rate/embedRate, "requests/embed-rate")
}

// sampleFolder is the absolute path of the sample photos
// (scripts/fetch-sample.sh), or an error saying how to fetch them.
func sampleFolder() (string, error) {
	sample, err := filepath.Abs(filepath.Join("..", "..", "data", "sample"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(sample, "beach", "beach3.jpg")); err != nil {
		return "", fmt.Errorf("no sample photos: run scripts/fetch-sample.sh (%w)", err)
	}
	return sample, nil
}

// defaultEmbedder is an embedder of the built-in default model, as the
// commands make one by default.
func defaultEmbedder(tb testing.TB) *embedder.Embedder {
	tb.Helper()
	m, err := defaultmodel.Load()
	if err != nil {
		tb.Fatal(err)
	}
	e, err := embedder.New(m, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// singleEmbedRate is how many times a second emb decodes and embeds data
// one image at a time, as the server does for each upload, over about d.
func singleEmbedRate(tb testing.TB, emb *embedder.Embedder, data []byte, d time.Duration) float64 {
	tb.Helper()
	n := 0
	began := time.Now()
	for time.Since(began) < d {
		in, err := emb.Decode(data)
		if err != nil {
			tb.Fatal(err)
		}
		emb.Embed([]*embedder.Input{in})
		n++
	}
	return float64(n) / time.Since(began).Seconds()
}

// peakRSS is the peak resident memory of process pid, in bytes, from
// Linux's /proc (0 elsewhere).
func peakRSS(pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// loadAverage is the machine's load over the last 1, 5 and 15 minutes, as
// Linux's /proc gives it ("?" elsewhere): the clients and the server share
// the machine's cores with whatever else runs.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// cpuSeconds is the CPU time (user and system) process pid has used, from
// Linux's /proc (0 elsewhere).
func cpuSeconds(pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th, in clock ticks
	// (100 a second on Linux).
	_, after, ok := bytes.Cut(stat, []byte(") "))
	f := strings.Fields(string(after))
	if !ok || len(f) < 13 {
		return 0
	}
	user, err1 := strconv.ParseFloat(f[11], 64)
	sys, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (user + sys) / 100
}
