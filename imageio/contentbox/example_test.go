package contentbox_test

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/deeprank/deeprank/imageio/contentbox"
)

func ExampleFind() {
	// A red 20x30 subject on a white 100x100 canvas, as an icon cropped
	// by a user might be: the box is the subject.
	img := image.NewRGBA(image.Rect(0, 0, 100, 100))
	draw.Draw(img, img.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(40, 30, 60, 60), image.NewUniform(color.RGBA{200, 0, 0, 255}), image.Point{}, draw.Src)
	fmt.Println(contentbox.Find(img))
	// Output:
	// (40,30)-(60,60)
}
