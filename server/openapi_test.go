package server

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// openAPIDoc is the part of openapi.yaml the tests check.
type openAPIDoc struct {
	OpenAPI    string                          `yaml:"openapi"`
	Paths      map[string]map[string]openAPIOp `yaml:"paths"`
	Components map[string]map[string]yaml.Node `yaml:"components"`
}

type openAPIOp struct {
	Parameters []struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
	} `yaml:"parameters"`
	Responses map[string]struct {
		Ref     string               `yaml:"$ref"`
		Content map[string]yaml.Node `yaml:"content"`
	} `yaml:"responses"`
}

func parseOpenAPI() (*openAPIDoc, error) {
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, fmt.Errorf("openapi.yaml: openapi %q, want 3.x", doc.OpenAPI)
	}
	return &doc, nil
}

// exercised holds each route and status ("GET /healthz 200") that a test
// server answered, to hold the statuses openapi.yaml documents to the
// tests.
var exercised = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

// record adds what s answered to exercised when t ends.
func record(t testing.TB, s *Server) {
	t.Cleanup(func() {
		s.metrics.mu.Lock()
		defer s.metrics.mu.Unlock()
		exercised.Lock()
		defer exercised.Unlock()
		for k := range s.metrics.requests {
			exercised.m[documented(k.route)+" "+strconv.Itoa(k.status)] = true
		}
	})
}

// TestMain runs the tests and then, when all of them ran, checks that
// they exercised every status openapi.yaml documents for every route.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if missing, err := unexercised(); err != nil || len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "openapi.yaml documents responses that no test exercised (add a test, or drop them from the file): %v %v\n", err, missing)
			code = 1
		}
	}
	os.Exit(code)
}

// unexercised lists the routes and statuses of openapi.yaml that no test
// server answered.
func unexercised() ([]string, error) {
	doc, err := parseOpenAPI()
	if err != nil {
		return nil, err
	}
	exercised.Lock()
	defer exercised.Unlock()
	var missing []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for status := range op.Responses {
				if k := strings.ToUpper(method) + " " + path + " " + status; !exercised.m[k] {
					missing = append(missing, k)
				}
			}
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// documented is a route as openapi.yaml names it: "GET /v1/collections/{name}".
func documented(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case strings.HasSuffix(path, "/{$}"):
		path = strings.TrimSuffix(path, "{$}")
	case strings.HasSuffix(path, "/"): // a subtree of files
		path += "{file}"
	}
	return method + " " + path
}

// TestOpenAPIRoutes holds openapi.yaml to the mux: the same routes with
// the same methods, each path parameter declared, every reference
// resolved, and every error response the JSON error.
func TestOpenAPIRoutes(t *testing.T) {
	doc, err := parseOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var inFile []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			route := strings.ToUpper(method) + " " + path
			inFile = append(inFile, route)
			checkOperation(t, doc, route, op)
		}
	}
	var inMux []string
	for _, r := range (&Server{}).routeTable() {
		inMux = append(inMux, documented(r.pattern))
	}
	slices.Sort(inFile)
	slices.Sort(inMux)
	for _, r := range inMux {
		if !slices.Contains(inFile, r) {
			t.Errorf("route %s is not in openapi.yaml", r)
		}
	}
	for _, r := range inFile {
		if !slices.Contains(inMux, r) {
			t.Errorf("openapi.yaml describes %s, which the server has no route for", r)
		}
	}
}

// checkOperation checks one operation of openapi.yaml.
func checkOperation(t *testing.T, doc *openAPIDoc, route string, op openAPIOp) {
	t.Helper()
	declared := map[string]bool{}
	for _, p := range op.Parameters {
		name := p.Name
		if p.Ref != "" {
			name = resolve(t, doc, route, p.Ref, "parameters")
		}
		declared[name] = true
	}
	for _, seg := range strings.Split(route, "/") {
		if strings.HasPrefix(seg, "{") && !declared[strings.Trim(seg, "{}")] {
			t.Errorf("%s: path parameter %s is not declared", route, seg)
		}
	}
	if len(op.Responses) == 0 {
		t.Errorf("%s: no responses", route)
	}
	for status, resp := range op.Responses {
		if code, err := strconv.Atoi(status); err != nil || http.StatusText(code) == "" {
			t.Errorf("%s: response %q is not an HTTP status", route, status)
		}
		if resp.Ref != "" {
			resolve(t, doc, route, resp.Ref, "responses")
			continue
		}
		if status >= "400" && route != "GET /static/{file}" {
			t.Errorf("%s: error response %s does not use the JSON error (a components/responses entry)", route, status)
		}
	}
}

// resolve checks that ref ("#/components/KIND/NAME") names an entry of
// openapi.yaml and gives, for a parameter, its name.
func resolve(t *testing.T, doc *openAPIDoc, route, ref, kind string) string {
	t.Helper()
	name, ok := strings.CutPrefix(ref, "#/components/"+kind+"/")
	node, found := doc.Components[kind][name]
	if !ok || !found {
		t.Errorf("%s: %s names no components/%s entry", route, ref, kind)
		return ""
	}
	var p struct{ Name string }
	node.Decode(&p)
	return p.Name
}

// TestOpenAPIServed: GET /v1/openapi.yaml gives the file.
func TestOpenAPIServed(t *testing.T) {
	f := mustTestbed(t)
	_, ts := mustServe(t, f, nil)
	status, b, h := call(t, "GET", ts.URL+"/v1/openapi.yaml", "", "")
	if status != 200 || string(b) != string(openAPI) || h.Get("Content-Type") != "application/yaml" {
		t.Errorf("status %d, Content-Type %q, %d bytes; want 200 application/yaml with openapi.yaml", status, h.Get("Content-Type"), len(b))
	}
}
