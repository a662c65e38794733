package heifwasm

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"sync"
	_ "unsafe" // go:linkname

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	_ "github.com/gen2brain/avif" // holds avifWasm
	_ "github.com/gen2brain/heic" // holds heicWasm
)

// The gzipped WebAssembly modules the gen2brain packages embed. They do not
// export them, and their own decoders cannot be given a memory allocator
// (they instantiate with a context of their own), hence go:linkname: the
// versions are pinned in go.mod, and TestModulesPinned checks the exports
// this package calls.
var (
	//go:linkname avifWasm github.com/gen2brain/avif.decodeWasm
	avifWasm []byte
	//go:linkname heicWasm github.com/gen2brain/heic.heifWasm
	heicWasm []byte
)

// runtime is the one wazero runtime both modules are compiled into, with
// WASI (which both import) instantiated once.
var runtime = sync.OnceValue(func() wazero.Runtime {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	return rt
})

// compiled gunzips and compiles a module once, on first use.
func compiled(gz *[]byte) func() (wazero.CompiledModule, error) {
	return sync.OnceValues(func() (wazero.CompiledModule, error) {
		r, err := gzip.NewReader(bytes.NewReader(*gz))
		if err != nil {
			return nil, fmt.Errorf("heifwasm: unpack module: %w", err)
		}
		wasm, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("heifwasm: unpack module: %w", err)
		}
		m, err := runtime().CompileModule(context.Background(), wasm)
		if err != nil {
			return nil, fmt.Errorf("heifwasm: compile module: %w", err)
		}
		return m, nil
	})
}

var (
	avifModule = compiled(&avifWasm)
	heicModule = compiled(&heicWasm)
)
