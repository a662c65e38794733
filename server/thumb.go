package server

import (
	"bytes"
	"container/list"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"sync"

	"golang.org/x/image/draw"

	"github.com/deeprank/deeprank/imageio"
)

// thumbSize is the longest side of a thumbnail, in pixels: a grid cell on
// a high-density screen.
const thumbSize = 256

// makeThumbnail decodes an image (within the pixel limit, in a decoding
// slot) and returns a JPEG of it that fits in thumbSize. A JPEG is decoded
// at a reduced scale that still leaves twice thumbSize on its shorter side:
// a camera photo at 1/4 or 1/8, in a fraction of the time and memory.
func (s *Server) makeThumbnail(ctx context.Context, data []byte) ([]byte, error) {
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.decodes }()
	img, _, err := imageio.DecodeFor(data, thumbSize, &imageio.Options{MaxPixels: s.o.MaxPixels})
	if errors.Is(err, imageio.ErrTooLarge) {
		return nil, &apiError{http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("thumbnail: %v (ingest.max_pixels, the most the server decodes); GET the image itself", err)}
	}
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > thumbSize || h > thumbSize {
		if w >= h {
			w, h = thumbSize, max(1, h*thumbSize/w)
		} else {
			w, h = max(1, w*thumbSize/h), thumbSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 80}); err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// thumbCache keeps the most recently used thumbnails within a byte bound.
// A bound of 0 keeps none.
type thumbCache struct {
	mu    sync.Mutex
	limit int64
	size  int64
	order *list.List // of *thumbEntry, most recent first
	byKey map[string]*list.Element
}

type thumbEntry struct {
	key string
	jpg []byte
}

func newThumbCache(limit int64) *thumbCache {
	return &thumbCache{limit: limit, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *thumbCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*thumbEntry).jpg, true
}

func (c *thumbCache) put(key string, jpg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok || int64(len(jpg)) > c.limit {
		return
	}
	c.byKey[key] = c.order.PushFront(&thumbEntry{key, jpg})
	c.size += int64(len(jpg))
	for c.size > c.limit {
		e := c.order.Back()
		old := c.order.Remove(e).(*thumbEntry)
		delete(c.byKey, old.key)
		c.size -= int64(len(old.jpg))
	}
}
