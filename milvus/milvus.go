// Package milvus keeps deeprank's vectors in Milvus, the vector database for
// collections that outgrow one machine. It implements the vectorstore
// contract and passes its conformance suite (vectorstore/storetest).
//
// Every deeprank collection is a Milvus alias (the name users see) pointing
// at a physical collection named NAME__xxxxxxxx. The physical collection's
// schema holds the primary key id (the image's SHA-256, VarChar), path,
// model_version, metadata (JSON) and the vector; its description records the
// deeprank name, model version and metric, so the dimension and model are
// checked on open. Rebuild fills a new physical collection and then moves
// the alias in one step, so queries switch at once from the old vectors to
// the new (deeprank reindex). A server without aliases (milvus-lite) cannot
// hold deeprank collections: Create says so (ErrNoAliases).
//
// A collection of several vectors an item (vectorstore.Spec.Variants)
// holds a row for each, keyed ID, ID.1, ID.2 ..., with the vector's number
// in a field of its own and the item's path and metadata on every row; a
// search asks for as many times more rows and keeps each item's nearest.
// Its description says format 2, which a deeprank that reads format 1
// alone does not take for its own (it asks for another name). A
// collection of partly learned vectors (vectorstore.Spec.Learned) says
// format 3, so that a deeprank that does not know the field refuses it.
//
// Searches and queries run at the configured consistency level (Strong by
// default, so a query right after an ingest sees it). Transient gRPC
// failures (Unavailable, ResourceExhausted) are retried with exponential
// backoff by the SDK's interceptor; every call is bounded by
// milvusconfig.Config.RequestTimeout, and Open by ConnectTimeout, so an
// unreachable server is an error, never a hang.
package milvus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/deeprank/deeprank/milvus/milvusconfig"
	"github.com/deeprank/deeprank/vectorstore"
)

var consistencyLevels = map[string]entity.ConsistencyLevel{
	"Strong": entity.ClStrong, "Bounded": entity.ClBounded,
	"Session": entity.ClSession, "Eventually": entity.ClEventually,
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnreachable is returned by Open when no Milvus answers in time.
	ErrUnreachable = errors.New("milvus is unreachable")
	// ErrNoAliases is returned when the server does not implement
	// collection aliases (milvus-lite does not), which every deeprank
	// collection is.
	ErrNoAliases = errors.New("this Milvus server does not support collection aliases")
)

// aliasError wraps the error of an alias call for op on collection name.
// A server without aliases answers Unimplemented with no message at all:
// say what that means and what to do instead.
func aliasError(op, name string, err error) error {
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("%s collection %q: %w (%v): deeprank keeps every collection behind an alias, "+
			"so that a reindex switches it in one step, and this server does not implement them, as milvus-lite does not; "+
			"use Milvus standalone or a cluster, 2.3 or later (docker-compose.yml runs one), or the embedded store (--store embedded)",
			op, name, ErrNoAliases, err)
	}
	return fmt.Errorf("%s collection %q: alias: %w", op, name, err)
}

// Store is a Milvus database seen as a vectorstore.Store. It is safe for
// concurrent use.
type Store struct {
	cfg milvusconfig.Config
	cli client.Client

	mu sync.Mutex
	// written holds the physical collections upserted to, flushed on Close
	// so that their segments are sealed and indexed.
	written map[string]bool
}

var _ vectorstore.Store = (*Store)(nil)

// Open connects to Milvus. It fails with ErrUnreachable within
// cfg.ConnectTimeout when no server answers.
func Open(ctx context.Context, cfg milvusconfig.Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open milvus: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	cli, err := client.NewClient(cctx, client.Config{
		Address: cfg.Address, Username: cfg.Username, Password: cfg.Password, APIKey: cfg.Token,
		EnableTLSAuth: cfg.TLS, DBName: cfg.Database,
	})
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("open milvus at %s: %w: no answer within %v (is the server running? set milvus.address or --milvus-address)", cfg.Address, ErrUnreachable, cfg.ConnectTimeout)
		}
		return nil, fmt.Errorf("open milvus at %s: %w", cfg.Address, err)
	}
	return &Store{cfg: cfg, cli: cli, written: map[string]bool{}}, nil
}

// Version is the server's version, such as "v2.3.5".
func (s *Store) Version(ctx context.Context) (string, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	return s.cli.GetVersion(ctx)
}

// call bounds one request by the request timeout.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

// description is what a physical collection records about itself.
type description struct {
	Deeprank     int                `json:"deeprank"`
	Name         string             `json:"name"`
	ModelVersion string             `json:"model_version"`
	Metric       vectorstore.Metric `json:"metric"`
	Variants     int                `json:"variants,omitempty"`
	Learned      int                `json:"learned,omitempty"`
}

// Description formats: 1 for one vector an item, 2 for several, 3 for
// partly learned vectors (vectorstore.Spec.Learned) whatever their number.
const (
	descriptionFormat         = 1
	descriptionFormatVariants = 2
	descriptionFormatLearned  = 3
)

// format is the description format of a collection described by d.
func (d description) format() int {
	switch {
	case d.Learned > 0:
		return descriptionFormatLearned
	case d.Variants > 1:
		return descriptionFormatVariants
	}
	return descriptionFormat
}

// parseDescription reads a physical collection's description; ok is false
// for collections deeprank did not make. The learned part is checked
// against the dimension by toPhysical, which knows it.
func parseDescription(s string) (d description, ok bool) {
	if json.Unmarshal([]byte(s), &d) != nil || d.Deeprank != d.format() || d.Variants < 0 || d.Learned < 0 ||
		!vectorstore.ValidName(d.Name) || d.ModelVersion == "" || !d.Metric.Valid() {
		return description{}, false
	}
	return d, true
}

// Field names of the schema.
const (
	fieldID       = "id"
	fieldPath     = "path"
	fieldVersion  = "model_version"
	fieldMetadata = "metadata"
	fieldVector   = "vector"
	// fieldVariant numbers a row's vector among its item's, in
	// collections of several.
	fieldVariant = "variant"
	maxPathLen   = 4096
	// maxVariants bounds the vectors an item, so that a row's key
	// (keyLen) stays short and a search of k items asks for few rows.
	maxVariants = 64
)

// keyLen is the longest row key of a collection of variants vectors an
// item: a hex SHA-256, and ".N" after it for all but the first.
func keyLen(variants int) int {
	if variants > 1 {
		return 64 + 3
	}
	return 64
}

// maxNameLen leaves room for the physical suffix "__xxxxxxxx" within
// Milvus's 255 characters.
const maxNameLen = 255 - 10

func checkName(op, name string) error {
	if !vectorstore.ValidName(name) || len(name) > maxNameLen {
		return fmt.Errorf("%s collection %q: %w: a name is a letter or _, then letters, digits or _, at most %d characters on Milvus", op, name, vectorstore.ErrInvalid, maxNameLen)
	}
	return nil
}

// Create makes an empty collection: a physical collection with its index,
// loaded, and the alias name pointing at it.
func (s *Store) Create(ctx context.Context, name string, spec vectorstore.Spec) error {
	if err := checkName("create", name); err != nil {
		return err
	}
	if _, err := s.resolve(ctx, name); err == nil {
		return fmt.Errorf("create collection %q: %w", name, vectorstore.ErrExists)
	} else if !errors.Is(err, vectorstore.ErrNotFound) {
		return err
	}
	p, err := s.createPhysical(ctx, name, spec)
	if err != nil {
		return err
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.cli.CreateAlias(cctx, p.phys, name); err != nil {
		s.dropPhysical(ctx, p.phys)
		return aliasError("create", name, err)
	}
	return nil
}

// createPhysical makes, indexes and loads a physical collection for name.
func (s *Store) createPhysical(ctx context.Context, name string, spec vectorstore.Spec) (physical, error) {
	if !spec.Valid() || spec.Dim > 32768 || len(spec.ModelVersion) > 64 || spec.PerItem() > maxVariants {
		return physical{}, fmt.Errorf("create collection %q: %w: spec %+v", name, vectorstore.ErrInvalid, spec)
	}
	var suffix [4]byte
	rand.Read(suffix[:])
	phys := name + "__" + hex.EncodeToString(suffix[:])
	variants := 0
	if spec.PerItem() > 1 {
		variants = spec.PerItem()
	}
	p := physical{phys: phys, dim: spec.Dim,
		desc: description{Name: name, ModelVersion: spec.ModelVersion, Metric: spec.Metric, Variants: variants, Learned: spec.Learned}}
	p.desc.Deeprank = p.desc.format()
	desc, _ := json.Marshal(p.desc)
	schema := entity.NewSchema().WithName(phys).WithDescription(string(desc)).
		WithField(entity.NewField().WithName(fieldID).WithDataType(entity.FieldTypeVarChar).WithMaxLength(int64(keyLen(variants))).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName(fieldPath).WithDataType(entity.FieldTypeVarChar).WithMaxLength(maxPathLen)).
		WithField(entity.NewField().WithName(fieldVersion).WithDataType(entity.FieldTypeVarChar).WithMaxLength(64)).
		WithField(entity.NewField().WithName(fieldMetadata).WithDataType(entity.FieldTypeJSON)).
		WithField(entity.NewField().WithName(fieldVector).WithDataType(entity.FieldTypeFloatVector).WithDim(int64(spec.Dim)))
	if variants > 1 {
		schema.WithField(entity.NewField().WithName(fieldVariant).WithDataType(entity.FieldTypeInt64))
	}
	idx, err := s.index(spec.Metric)
	if err != nil {
		return physical{}, fmt.Errorf("create collection %q: %w", name, err)
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.cli.CreateCollection(cctx, schema, 1, client.WithConsistencyLevel(s.consistency())); err != nil {
		return physical{}, fmt.Errorf("create collection %q: %w", name, err)
	}
	if err := s.cli.CreateIndex(cctx, phys, fieldVector, idx, false); err != nil {
		s.dropPhysical(ctx, phys)
		return physical{}, fmt.Errorf("create collection %q: index %s: %w", name, s.cfg.Index, err)
	}
	if err := s.cli.LoadCollection(cctx, phys, false); err != nil {
		s.dropPhysical(ctx, phys)
		return physical{}, fmt.Errorf("create collection %q: load: %w", name, err)
	}
	return p, nil
}

func (s *Store) consistency() entity.ConsistencyLevel { return consistencyLevels[s.cfg.Consistency] }

func metricType(m vectorstore.Metric) entity.MetricType {
	switch m {
	case vectorstore.MetricCosine:
		return entity.COSINE
	case vectorstore.MetricIP:
		return entity.IP
	}
	return entity.L2
}

func (s *Store) index(metric vectorstore.Metric) (entity.Index, error) {
	mt := metricType(metric)
	switch s.cfg.Index {
	case "IVF_FLAT":
		return entity.NewIndexIvfFlat(mt, s.cfg.IVFNList)
	case "FLAT":
		return entity.NewIndexFlat(mt)
	case "AUTOINDEX":
		return entity.NewIndexAUTOINDEX(mt)
	}
	return entity.NewIndexHNSW(mt, s.cfg.HNSWM, s.cfg.HNSWEfConstruction)
}

func (s *Store) searchParam(k int) (entity.SearchParam, error) {
	switch s.cfg.Index {
	case "IVF_FLAT":
		return entity.NewIndexIvfFlatSearchParam(s.cfg.SearchNProbe)
	case "FLAT":
		return entity.NewIndexFlatSearchParam()
	case "AUTOINDEX":
		return entity.NewIndexAUTOINDEXSearchParam(1)
	}
	return entity.NewIndexHNSWSearchParam(max(s.cfg.SearchEf, k))
}

// physical is a deeprank physical collection.
type physical struct {
	phys string
	desc description
	dim  int
}

// resolve finds the physical collection behind name (an alias).
func (s *Store) resolve(ctx context.Context, name string) (physical, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	coll, err := s.cli.DescribeCollection(cctx, name)
	if err != nil {
		if isNotFound(err) {
			return physical{}, fmt.Errorf("collection %q: %w", name, vectorstore.ErrNotFound)
		}
		return physical{}, fmt.Errorf("collection %q: %w", name, err)
	}
	// milvus-lite answers a name it does not know with success and an
	// empty schema, where Milvus answers "can't find collection".
	if coll.Schema == nil || coll.Schema.CollectionName == "" && len(coll.Schema.Fields) == 0 {
		return physical{}, fmt.Errorf("collection %q: %w", name, vectorstore.ErrNotFound)
	}
	p, ok := toPhysical(coll)
	if !ok || p.desc.Name != name {
		return physical{}, fmt.Errorf("collection %q: %w: it exists in Milvus but deeprank did not make it; use another name", name, vectorstore.ErrInvalid)
	}
	return p, nil
}

func toPhysical(coll *entity.Collection) (physical, bool) {
	if coll.Schema == nil {
		return physical{}, false
	}
	d, ok := parseDescription(coll.Schema.Description)
	if !ok {
		return physical{}, false
	}
	p := physical{phys: coll.Schema.CollectionName, desc: d}
	for _, f := range coll.Schema.Fields {
		if f.Name == fieldVector {
			fmt.Sscan(f.TypeParams[entity.TypeParamDim], &p.dim)
		}
	}
	return p, p.dim > 0 && d.Learned < p.dim
}

// isNotFound reports Milvus's "collection not found" error; the 2.3
// server answers with a status message, not a code the SDK maps.
func isNotFound(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not found") || strings.Contains(msg, "can't find") || strings.Contains(msg, "not exist")
}

// Open returns an existing collection. Its operations address the physical
// collection the alias pointed at when opened: a handle never mixes the
// vectors of two models, even if a reindex switches the alias meanwhile.
func (s *Store) Open(ctx context.Context, name string) (vectorstore.Collection, error) {
	if err := checkName("open", name); err != nil {
		return nil, err
	}
	p, err := s.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := s.ensureLoaded(ctx, p); err != nil {
		return nil, err
	}
	return &collection{s: s, p: p}, nil
}

// ensureLoaded waits until the collection is in the query nodes' memory:
// after a server restart Milvus reloads collections on its own, and until
// it has, every query fails. A collection released by hand is loaded again.
func (s *Store) ensureLoaded(ctx context.Context, p physical) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	for {
		state, err := s.cli.GetLoadState(cctx, p.phys, nil)
		if err != nil {
			return fmt.Errorf("open collection %q: load state: %w", p.desc.Name, err)
		}
		switch state {
		case entity.LoadStateLoaded:
			return nil
		case entity.LoadStateNotLoad:
			if err := s.cli.LoadCollection(cctx, p.phys, false); err != nil {
				return fmt.Errorf("open collection %q: load: %w", p.desc.Name, err)
			}
			return nil
		}
		select {
		case <-cctx.Done():
			return fmt.Errorf("open collection %q: still loading after %v: %w", p.desc.Name, s.cfg.RequestTimeout, cctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// physicals lists deeprank's physical collections.
func (s *Store) physicals(ctx context.Context) ([]physical, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	colls, err := s.cli.ListCollections(cctx)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	var out []physical
	for _, c := range colls {
		if !strings.Contains(c.Name, "__") {
			continue // not deeprank's
		}
		full, err := s.cli.DescribeCollection(cctx, c.Name)
		if err != nil {
			if isNotFound(err) {
				continue // dropped meanwhile
			}
			return nil, fmt.Errorf("list collections: %s: %w", c.Name, err)
		}
		if p, ok := toPhysical(full); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// List describes every collection, sorted by name. Physical collections
// that no alias points at (a reindex cut short) are not listed.
func (s *Store) List(ctx context.Context) ([]vectorstore.Info, error) {
	ps, err := s.physicals(ctx)
	if err != nil {
		return nil, err
	}
	var out []vectorstore.Info
	for _, p := range ps {
		live, err := s.resolve(ctx, p.desc.Name)
		if err != nil || live.phys != p.phys {
			continue
		}
		info, err := (&collection{s: s, p: p}).Info(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b vectorstore.Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Drop deletes a collection: the alias, the physical collection behind it
// and any left by a reindex cut short.
func (s *Store) Drop(ctx context.Context, name string) error {
	if err := checkName("drop", name); err != nil {
		return err
	}
	if _, err := s.resolve(ctx, name); err != nil {
		return fmt.Errorf("drop %w", err)
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.cli.DropAlias(cctx, name); err != nil {
		return aliasError("drop", name, err)
	}
	ps, err := s.physicals(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.desc.Name == name {
			if err := s.dropPhysical(ctx, p.phys); err != nil {
				return fmt.Errorf("drop collection %q: %w", name, err)
			}
		}
	}
	return nil
}

func (s *Store) dropPhysical(ctx context.Context, phys string) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	s.mu.Lock()
	delete(s.written, phys)
	s.mu.Unlock()
	return s.cli.DropCollection(cctx, phys)
}

// Rebuild makes an empty collection under spec that will replace name,
// calls fill to write it, then moves the alias name to it in one step and
// only then drops the old vectors. If fill fails, name is left as it was.
func (s *Store) Rebuild(ctx context.Context, name string, spec vectorstore.Spec, fill func(context.Context, vectorstore.Collection) error) error {
	if err := checkName("reindex", name); err != nil {
		return err
	}
	old, err := s.resolve(ctx, name)
	if err != nil {
		return fmt.Errorf("reindex %w", err)
	}
	fresh, err := s.createPhysical(ctx, name, spec)
	if err != nil {
		return err
	}
	phys := fresh.phys
	if err := fill(ctx, &collection{s: s, p: fresh}); err != nil {
		s.dropPhysical(context.WithoutCancel(ctx), phys)
		return err
	}
	if err := s.flush(ctx, phys); err != nil {
		return err
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.cli.AlterAlias(cctx, phys, name); err != nil {
		s.dropPhysical(context.WithoutCancel(ctx), phys)
		return aliasError("reindex", name, err)
	}
	if err := s.dropPhysical(ctx, old.phys); err != nil {
		return fmt.Errorf("reindex %q: switched, but dropping the old vectors (%s) failed: %w", name, old.phys, err)
	}
	return nil
}

func (s *Store) flush(ctx context.Context, phys string) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.cli.Flush(cctx, phys, false); err != nil {
		return fmt.Errorf("flush %s: %w", phys, err)
	}
	s.mu.Lock()
	delete(s.written, phys)
	s.mu.Unlock()
	return nil
}

// WaitIndexed flushes the collection name and waits until its index covers
// every stored vector, or ctx ends. Searches work before that (unindexed
// segments are searched exhaustively) but are slower; call it after a bulk
// ingest to query at full speed.
func (s *Store) WaitIndexed(ctx context.Context, name string) error {
	p, err := s.resolve(ctx, name)
	if err != nil {
		return err
	}
	if err := s.flush(ctx, p.phys); err != nil {
		return err
	}
	for {
		total, indexed, err := s.cli.GetIndexBuildProgress(ctx, p.phys, fieldVector)
		if err != nil {
			return fmt.Errorf("index progress of %q: %w", name, err)
		}
		if indexed >= total {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("index of %q: %d of %d vectors indexed: %w", name, indexed, total, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// Close flushes the collections written to (sealing their segments so
// Milvus indexes them) and disconnects.
func (s *Store) Close() error {
	s.mu.Lock()
	phys := make([]string, 0, len(s.written))
	for p := range s.written {
		phys = append(phys, p)
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range phys {
		if err := s.flush(context.Background(), p); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.cli.Close())
	return errors.Join(errs...)
}
