package imageio_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"github.com/deeprank/deeprank/imageio"
)

func ExampleDecode() {
	// A 400x300 PNG, half transparent: Square composites it on white.
	img := image.NewNRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			img.Set(x, y, color.NRGBA{0, 0, 255, 128})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}

	decoded, err := imageio.Decode(buf.Bytes(), nil)
	if err != nil {
		panic(err)
	}
	sq := imageio.Square(decoded, 64)
	fmt.Println(sq.Bounds().Size(), sq.RGBAAt(32, 32))

	// Limits are checked on the declared size, before decoding.
	_, err = imageio.Decode(buf.Bytes(), &imageio.Options{MaxPixels: 100_000})
	fmt.Println(errors.Is(err, imageio.ErrTooLarge))
	_, err = imageio.Decode([]byte("plain text, not an image"), nil)
	fmt.Println(errors.Is(err, imageio.ErrNotImage))
	// Output:
	// (64,64) {127 127 255 255}
	// true
	// true
}

func ExampleTrimSquare() {
	// A red 20x30 subject on a white 100x100 canvas, as an icon cropped
	// by a user might be: trimmed, the subject fills the square.
	img := image.NewRGBA(image.Rect(0, 0, 100, 100))
	draw.Draw(img, img.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(40, 30, 60, 60), image.NewUniform(color.RGBA{200, 0, 0, 255}), image.Point{}, draw.Src)

	sq := imageio.TrimSquare(img, 16)
	fmt.Println(sq.Bounds().Size(), sq.RGBAAt(0, 0), sq.RGBAAt(15, 15))
	// Output:
	// (16,16) {200 0 0 255} {200 0 0 255}
}

func ExampleRotate() {
	// A 300x100 picture with a red block right of its centre, squared to
	// 32 as the network's input is: turned a quarter anticlockwise in the
	// picture's own proportions (aspect 3), the block moves above the
	// centre, as far up as it was right in the picture: 30 of the
	// picture's 100 rows, 10 of the square's 32.
	img := image.NewRGBA(image.Rect(0, 0, 300, 100))
	draw.Draw(img, img.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(170, 40, 190, 60), image.NewUniform(color.RGBA{200, 0, 0, 255}), image.Point{}, draw.Src)
	sq := imageio.Square(img, 32)
	red := func(c color.RGBA) bool { return c.R > 150 && c.G < 60 }

	turned := imageio.Rotate(sq, 90, 3)
	fmt.Println("before, right of the centre:", red(sq.RGBAAt(19, 16)))
	fmt.Println("after, right of the centre:", red(turned.RGBAAt(19, 16)))
	fmt.Println("after, above it:", red(turned.RGBAAt(16, 6)))
	// Output:
	// before, right of the centre: true
	// after, right of the centre: false
	// after, above it: true
}
