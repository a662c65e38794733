// Package integration runs deeprank against a real Milvus server in a
// container (testcontainers-go): the store conformance suite, the CLI end to
// end, deeprank serve, and fault tests.
//
// The image is $DEEPRANK_MILVUS_IMAGE, by default the official
// milvusdb/milvus standalone image; on machines without a registry,
// scripts/milvus-image.sh builds a local one and .ci/run points the variable
// at it. Without a Docker engine the tests skip, saying why, unless
// DEEPRANK_REQUIRE_DOCKER=1 (as in CI), where they fail instead.
package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/deeprank/deeprank/milvus"
	"github.com/deeprank/deeprank/milvus/milvusconfig"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// DefaultImage is the official Milvus standalone image.
const DefaultImage = "milvusdb/milvus:v2.3.5"

func TestMain(m *testing.M) {
	// testcontainers must dial the engine's published ports on loopback,
	// and Ryuk (the reaper) has no image here: the tests terminate their
	// containers themselves.
	for k, v := range map[string]string{"TESTCONTAINERS_HOST_OVERRIDE": "127.0.0.1", "TESTCONTAINERS_RYUK_DISABLED": "true"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	os.Exit(m.Run())
}

func image() string {
	if img := os.Getenv("DEEPRANK_MILVUS_IMAGE"); img != "" {
		return img
	}
	return DefaultImage
}

// embedEtcd configures the etcd that Milvus standalone runs in-process, as
// the official image's standalone script does.
const embedEtcd = "listen-client-urls: http://0.0.0.0:2379\nadvertise-client-urls: http://0.0.0.0:2379\nquota-backend-bytes: 4294967296\n"

// server is a Milvus standalone container.
type server struct {
	c testcontainers.Container
}

// startMilvus starts a Milvus container and terminates it when t ends. It
// skips t where no Docker engine answers, unless DEEPRANK_REQUIRE_DOCKER=1.
//
// It does what testcontainers-go's modules/milvus (v0.44.0, the newest
// served) does, by hand, because requiring that module changes the
// product: its go.mod requires github.com/milvus-io/milvus/client/v2 for its
// own tests, which lifts the milvus-proto API that package milvus's SDK
// (milvus-sdk-go v2.4.2) is built with from v2.4 to v2.6, and grpc from
// v1.67 to v1.82 (seen with go get and go mod graph). A test helper must not
// swap the wire code of the Milvus adapter. The module would also publish
// etcd's client port and wait one minute at most; here only gRPC and the
// health port are published, on loopback, and start-up may take three.
func startMilvus(t testing.TB) *server {
	t.Helper()
	// Where Docker is required, starting the container below fails loudly.
	if tt, ok := t.(*testing.T); ok && os.Getenv("DEEPRANK_REQUIRE_DOCKER") != "1" {
		testcontainers.SkipIfProviderIsNotHealthy(tt)
	}
	ctx := context.Background()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image(),
			ExposedPorts: []string{"19530/tcp", "9091/tcp"},
			// Published on loopback only: nothing outside this machine
			// reaches the test server.
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.PublishAllPorts = false
				hc.PortBindings = network.PortMap{}
				for _, p := range []string{"19530/tcp", "9091/tcp"} {
					hc.PortBindings[network.MustParsePort(p)] = []network.PortBinding{{HostIP: loopback}}
				}
			},
			Cmd: []string{"milvus", "run", "standalone"},
			Env: map[string]string{
				"ETCD_USE_EMBED": "true", "ETCD_DATA_DIR": "/var/lib/milvus/etcd",
				"ETCD_CONFIG_PATH": "/milvus/configs/embedEtcd.yaml", "COMMON_STORAGETYPE": "local",
				"DEPLOY_MODE": "STANDALONE",
			},
			Files: []testcontainers.ContainerFile{{
				Reader: strings.NewReader(embedEtcd), ContainerFilePath: "/milvus/configs/embedEtcd.yaml", FileMode: 0o644,
			}},
			WaitingFor: wait.ForHTTP("/healthz").WithPort("9091/tcp").WithStartupTimeout(3 * time.Minute),
		},
		Started: true,
	})
	if c != nil {
		t.Cleanup(func() {
			if err := testcontainers.TerminateContainer(c); err != nil {
				t.Logf("terminate milvus container: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("start milvus from image %s: %v (build a local image with scripts/milvus-image.sh, or set DEEPRANK_MILVUS_IMAGE)", image(), err)
	}
	return &server{c: c}
}

// address is the server's gRPC host:port; it changes when the container
// is restarted.
func (s *server) address(t testing.TB) string {
	t.Helper()
	ep, err := s.c.PortEndpoint(context.Background(), "19530/tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

// config is the adapter's default configuration against s.
func (s *server) config(t testing.TB) milvusconfig.Config {
	cfg := milvusconfig.Default()
	cfg.Address = s.address(t)
	cfg.ConnectTimeout = 30 * time.Second
	return cfg
}

// open connects to s.
func (s *server) open(t testing.TB) *milvus.Store {
	t.Helper()
	st, err := milvus.Open(context.Background(), s.config(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// announce logs the server's version, so the test output names what ran.
func (s *server) announce(t testing.TB) {
	t.Helper()
	st := s.open(t)
	defer st.Close()
	v, err := st.Version(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("integration: Milvus %s from image %s at %s\n", v, image(), s.address(t))
}
